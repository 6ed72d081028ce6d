/**
 * `deno task eval:langevin` on what a user may get wrong: one `error:` line
 * and status 1 (2 for the command line), never a stack trace. (The chains it
 * runs are tested in `tests/langevin.test.ts`.)
 */

import { equal, match } from "node:assert/strict";
import { join } from "node:path";
import { encodePng } from "../../core/image.ts";
import { defaultBundleWithout } from "./testing.ts";
import { runTool } from "../testing.ts";

Deno.test("eval:langevin: a bad flag is a usage error, a bundle without energy one error line", async () => {
  const usage = await runTool("eval/langevin.ts", ["--steps", "0"]);
  equal(usage.code, 2);
  match(usage.lines[0], /^error: --steps must be at least 1\./);
  // A baseline's bundle, or one exported before energy.onnx.
  const dir = await defaultBundleWithout(["energy"]);
  const refused = await runTool("eval/langevin.ts", ["--model", dir, "--images", "20"]);
  equal(refused.code, 1, refused.lines.join("\n"));
  equal(refused.lines.length, 1, refused.lines.join("\n"));
  match(
    refused.lines[0],
    /^error: this model has no energy model \(energy\.onnx\): it is a baseline/,
  );
  await Deno.remove(dir, { recursive: true });
  // One without gradient files says that, not that the energy model is missing too.
  const noVjps = await defaultBundleWithout(["headVjp", "tailVjp"]);
  const withoutVjps = await runTool("eval/langevin.ts", ["--model", noVjps, "--images", "20"]);
  equal(withoutVjps.code, 1, withoutVjps.lines.join("\n"));
  match(
    withoutVjps.lines[0],
    /^error: this model has no gradient files \(head_vjp\.onnx, tail_vjp\.onnx\)/,
  );
  await Deno.remove(noVjps, { recursive: true });
});

Deno.test("eval:langevin: a folder of fewer real faces than N is one error line, before any refining", async () => {
  const data = await Deno.makeTempDir();
  try {
    for (let k = 0; k < 3; k++) {
      const face = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3).fill(40 * k) };
      await Deno.writeFile(join(data, `${k}.png`), encodePng(face));
    }
    const r = await runTool("eval/langevin.ts", ["--data", data, "--images", "20"]);
    equal(r.code, 1, r.lines.join("\n"));
    match(
      r.lines.at(-1)!,
      /^error: .* holds 3 images; realism against N = 20 .* \(lower --images\)/,
    );
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});
