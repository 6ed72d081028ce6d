/**
 * What the evaluation tools' tests share: running a tool as users do, and a
 * copy of the embedded default bundle without some of its optional parts.
 *
 * @module
 */

import { join } from "node:path";
import { ROOT } from "../server_process.ts";

/**
 * Runs `deno run -A tools/eval/<script>` with `args`; returns its exit code,
 * the lines of its standard error that are not progress lines (nor Deno's
 * "Download ..." lines on a machine that has not cached the packages), and
 * its standard output.
 */
export async function runEvalTool(
  script: string,
  args: string[],
): Promise<{ code: number; lines: string[]; stdout: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `tools/eval/${script}`, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  const chatter = (line: string) => / \d+\/\d+ \[/.test(line) || /^Download /.test(line);
  return {
    code,
    lines: text.trim().split("\n").filter((line) => !chatter(line)),
    stdout: new TextDecoder().decode(stdout),
  };
}

/**
 * A new temporary folder with the default bundle, its manifest without the
 * `files` entries and manifest fields named in `without` (e.g. `encoder`).
 */
export async function defaultBundleWithout(without: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "igan-bundle-" });
  const source = join(ROOT, "model", "default");
  const manifest = JSON.parse(await Deno.readTextFile(join(source, "manifest.json")));
  for (const key of without) {
    delete manifest.files[key];
    delete manifest[key];
  }
  for (const file of Object.values(manifest.files) as { path: string }[]) {
    await Deno.copyFile(join(source, file.path), join(dir, file.path));
  }
  await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify(manifest));
  return dir;
}
