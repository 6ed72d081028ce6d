import { equal, throws } from "node:assert/strict";
import { backend, initEngine } from "../engine.ts";
import { ShapeError } from "../errors.ts";
import { checkOp, HostRng } from "../testing/harness.ts";
import { upsampleNearest2xRef } from "../testing/reference_norm.ts";
import { scope, zeros } from "../tensor.ts";
import { upsampleNearest2x } from "./upsample.ts";

await initEngine();

Deno.test("upsampleNearest2x repeats pixels in 2x2 blocks; its gradient sums them", async (t) => {
  const rng = new HostRng(41);
  for (const shape of [[1, 1, 1, 1], [2, 3, 4, 5], [3, 5, 7, 9], [1, 2, 33, 17]]) {
    await t.step(`[${shape}]`, async () => {
      await checkOp({
        name: `upsampleNearest2x [${shape}]`,
        inputs: [rng.uniform(shape)],
        gpu: ([x]) => upsampleNearest2x(x),
        reference: ([x]) => upsampleNearest2xRef(x),
      });
    });
  }
});

Deno.test("upsampleNearest2x is one kernel", () => {
  const runtime = backend();
  scope(() => {
    const x = zeros([2, 3, 4, 5]);
    const before = runtime.dispatchCount;
    equal(upsampleNearest2x(x).shape.join(), "2,3,8,10");
    equal(runtime.dispatchCount - before, 1);
  });
});

Deno.test("upsampleNearest2x rejects inputs that are not NCHW", () => {
  scope(() => {
    throws(
      () => upsampleNearest2x(zeros([3, 4, 4])),
      (e) => e instanceof ShapeError && /rank 4, got \[3, 4, 4\]/.test(e.message),
    );
  });
});
