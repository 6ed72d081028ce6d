/**
 * The folders are the architecture's layers: the server's module graph holds
 * nothing of the trainer, the face measurements (and their face-api) or the
 * tools, `core/`, which they all use, imports nothing above it, and the
 * studio's browser script imports only plain JavaScript of `core/`.
 */

import { deepEqual, ok } from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The repository files (relative paths) in the module graph of `entries`. */
async function moduleGraph(...entries: string[]): Promise<string[]> {
  const files = new Set<string>();
  for (const entry of entries) {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    ok(code === 0, new TextDecoder().decode(stderr));
    const graph = JSON.parse(new TextDecoder().decode(stdout)) as {
      modules: { specifier: string }[];
    };
    for (const { specifier } of graph.modules) {
      if (specifier.startsWith("file:")) files.add(relative(ROOT, fileURLToPath(specifier)));
    }
  }
  return [...files].sort();
}

Deno.test("the server's module graph holds nothing of training/, faces/ or tools/", async () => {
  const graph = await moduleGraph("main.ts");
  ok(graph.includes("routes/app.ts") && graph.includes("core/image.ts"), graph.join("\n"));
  deepEqual(graph.filter((file) => /^(training|faces|tools)\//.test(file)), []);
});

Deno.test("core/ imports nothing outside core/", async () => {
  const modules = [...Deno.readDirSync(`${ROOT}/core`)]
    .filter((e) => e.isFile && /\.(ts|js)$/.test(e.name) && !e.name.endsWith(".test.ts"))
    .map((e) => `core/${e.name}`);
  ok(modules.length >= 7, modules.join());
  const graph = await moduleGraph(...modules);
  deepEqual(graph.filter((file) => !file.startsWith("core/")), []);
});

Deno.test("the studio's browser script imports only itself and core/'s plain JavaScript", async () => {
  const graph = await moduleGraph("studio/studio.js");
  ok(graph.includes("core/swap_maps.js"), graph.join("\n"));
  deepEqual(
    graph.filter((file) => file !== "studio/studio.js" && !/^core\/.*\.js$/.test(file)),
    [],
  );
});
