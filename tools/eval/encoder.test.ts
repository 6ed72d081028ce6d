/**
 * `deno task eval:encoder` on what a user may get wrong: one `error:` line
 * and status 1 (2 for the command line), never a stack trace. (What it
 * measures is tested in `faces/reconstruction.test.ts` and the export's tests.)
 */

import { equal, match } from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../server_process.ts";

async function evalEncoder(args: string[]): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tools/eval/encoder.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

Deno.test("eval:encoder: a bad flag is a usage error, a bundle without an encoder one error line", async () => {
  const usage = await evalEncoder(["--refine", "ten"]);
  equal(usage.code, 2);
  match(usage.stderr, /^error: --refine takes step counts/);
  const dir = await Deno.makeTempDir({ prefix: "igan-encoder-cli-" });
  const source = join(ROOT, "model", "default");
  const manifest = JSON.parse(await Deno.readTextFile(join(source, "manifest.json")));
  delete manifest.files.encoder;
  delete manifest.encoder;
  for (const file of Object.values(manifest.files) as { path: string }[]) {
    await Deno.copyFile(join(source, file.path), join(dir, file.path));
  }
  await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify(manifest));
  const refused = await evalEncoder(["--model", dir, "--images", "1"]);
  equal(refused.code, 1, refused.stderr);
  match(refused.stderr, /^error: this bundle has no encoder/m);
  equal(refused.stderr.includes("    at "), false, "no stack trace");
  await Deno.remove(dir, { recursive: true });
});
