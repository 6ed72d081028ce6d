/**
 * `deno task eval:encoder` on what a user may get wrong: one `error:` line
 * and status 1 (2 for the command line), never a stack trace. (What it
 * measures is tested in `faces/reconstruction.test.ts` and the export's tests.)
 */

import { equal, match } from "node:assert/strict";
import { defaultBundleWithout } from "./testing.ts";
import { runTool } from "../testing.ts";

Deno.test("eval:encoder: a bad flag is a usage error, a bundle without an encoder one error line", async () => {
  const usage = await runTool("eval/encoder.ts", ["--refine", "ten"]);
  equal(usage.code, 2);
  match(usage.lines[0], /^error: --refine takes step counts/);
  const dir = await defaultBundleWithout(["encoder"]);
  const refused = await runTool("eval/encoder.ts", ["--model", dir, "--images", "1"]);
  equal(refused.code, 1, refused.lines.join("\n"));
  equal(refused.lines.length, 1, refused.lines.join("\n"));
  match(refused.lines[0], /^error: this bundle has no encoder/);
  await Deno.remove(dir, { recursive: true });
});
