/**
 * The folders are the architecture's layers: the server's module graph (its
 * render workers' included) holds nothing of the trainer, the face
 * measurements (and their face-api) or the tools, `core/`, which they all
 * use, imports nothing above it, the studio's browser script imports only
 * plain JavaScript of `core/`, and the command line every tool and benchmark
 * parses its flags with loads none of the heavy modules some of them use.
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

/**
 * The modules that files of `graph` load by URL (`new URL("./x.ts", import.meta.url)`, as the
 * render workers are started with `new Worker`), which `deno info` does not follow.
 */
async function modulesLoadedByUrl(graph: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const file of graph) {
    const text = await Deno.readTextFile(`${ROOT}/${file}`);
    for (const [, path] of text.matchAll(/new URL\("([^"]+\.[jt]s)", import\.meta\.url\)/g)) {
      found.add(relative(ROOT, fileURLToPath(new URL(path, new URL(file, `file://${ROOT}/`)))));
    }
  }
  return [...found].sort();
}

Deno.test("the server's module graph holds nothing of training/, faces/ or tools/", async () => {
  const main = await moduleGraph("main.ts");
  const byUrl = await modulesLoadedByUrl(main);
  ok(byUrl.includes("model/render_worker.ts"), byUrl.join("\n"));
  const graph = await moduleGraph("main.ts", ...byUrl);
  ok(graph.includes("routes/app.ts") && graph.includes("core/image.ts"), graph.join("\n"));
  deepEqual(graph.filter((file) => /^(training|faces|tools)\//.test(file)), []);
});

Deno.test("the tools' command line loads no engine, exporter, face networks or onnxruntime", async () => {
  const graph = await moduleGraph("training/command_line.ts");
  ok(graph.includes("core/user_error.ts"), graph.join("\n"));
  deepEqual(
    graph.filter((file) => /^(training\/(engine|export)|faces)\/|^model\/sessions\.ts$/.test(file)),
    [],
  );
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
