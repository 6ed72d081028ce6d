/**
 * `deno task eval:langevin` on what a user may get wrong: one `error:` line
 * and status 1 (2 for the command line), never a stack trace. (The chains it
 * runs are tested in `model/langevin.test.ts`.)
 */

import { equal, match } from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../server_process.ts";

const DEFAULT = join(ROOT, "model", "default");

async function evalLangevin(args: string[]): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tools/eval/langevin.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

Deno.test("eval:langevin: a bad flag is a usage error, a bundle without energy one error line", async () => {
  const usage = await evalLangevin(["--steps", "0"]);
  equal(usage.code, 2);
  match(usage.stderr, /^error: --steps must be at least 1\./);
  // A copy of the default bundle without its energy model (a baseline's, or an older export).
  const dir = await Deno.makeTempDir({ prefix: "igan-langevin-cli-" });
  const manifest = JSON.parse(await Deno.readTextFile(join(DEFAULT, "manifest.json")));
  delete manifest.files.energy;
  delete manifest.energy;
  for (const file of Object.values(manifest.files) as { path: string }[]) {
    await Deno.copyFile(join(DEFAULT, file.path), join(dir, file.path));
  }
  await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify(manifest));
  const refused = await evalLangevin(["--model", dir, "--images", "20", "--pairs", "1"]);
  equal(refused.code, 1, refused.stderr);
  match(refused.stderr.trim(), /^error: this bundle has no energy model/m);
  equal(refused.stderr.includes("    at "), false, "no stack trace");
  await Deno.remove(dir, { recursive: true });
});
