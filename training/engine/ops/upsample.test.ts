import { equal, throws } from "node:assert/strict";
import { backend, initEngine } from "../engine.ts";
import { ShapeError } from "../errors.ts";
import { checkOp, HostRng } from "../testing/harness.ts";
import { conv2dRef } from "../testing/reference_conv.ts";
import { upsampleNearest2xRef } from "../testing/reference_norm.ts";
import { scope, zeros } from "../tensor.ts";
import { convTranspose2d } from "./conv.ts";
import { upsampledConvKernel, upsampleNearest2x } from "./upsample.ts";

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

Deno.test("upsampledConvKernel: its transposed convolution is upsampling then a 3x3 convolution", async (t) => {
  const rng = new HostRng(43);
  // [B, Cin, H, W], Cout
  const cases: [number[], number][] = [[[1, 1, 1, 1], 1], [[2, 3, 4, 5], 2], [[1, 2, 6, 3], 4]];
  for (const [shape, cout] of cases) {
    await t.step(`x [${shape}] -> ${cout} channels`, async () => {
      await checkOp({
        name: `upsampled 3x3 conv [${shape}]`,
        inputs: [rng.uniform(shape), rng.uniform([cout, shape[1], 3, 3])],
        gpu: ([x, w]) =>
          convTranspose2d(x, upsampledConvKernel(w), undefined, {
            stride: 2,
            padding: 1,
          }),
        reference: ([x, w]) => conv2dRef(upsampleNearest2xRef(x), w, undefined, 1, 1),
        atol: 2e-4,
      });
    });
  }
});

Deno.test("upsampledConvKernel rejects kernels that are not 3x3", () => {
  scope(() => {
    throws(
      () => upsampledConvKernel(zeros([2, 3, 4, 4])),
      (e) =>
        e instanceof ShapeError &&
        /3x3 kernel \[Cout, Cin, 3, 3\], got \[2, 3, 4, 4\]/.test(e.message),
    );
  });
});
