import { throws } from "node:assert/strict";
import { initEngine } from "../engine.ts";
import { ShapeError } from "../errors.ts";
import { checkOp, HostRng } from "../testing/harness.ts";
import { conv2dRef, convTranspose2dRef } from "../testing/reference_conv.ts";
import { zeros } from "../tensor.ts";
import { conv2d, convTranspose2d } from "./conv.ts";
import type { Activation } from "./formulas.ts";

await initEngine();

Deno.test("conv2d matches float64 for GAN kernel shapes and odd sizes", async (t) => {
  const rng = new HostRng(31);
  // [B, Cin, H, W], [Cout, KH, KW], stride, padding, bias
  const cases: [number[], number[], number, number, boolean][] = [
    [[2, 3, 7, 9], [5, 3, 3], 1, 1, true], // 3x3 s1 p1
    [[2, 3, 8, 10], [4, 4, 4], 2, 1, false], // 4x4 s2 p1
    [[3, 5, 5, 6], [7, 1, 1], 1, 0, true], // 1x1
    [[2, 6, 4, 4], [1, 4, 4], 1, 0, false], // discriminator head: 4x4 -> 1x1
    [[3, 5, 3, 3], [4, 3, 3], 2, 0, true], // a kernel covering the input: a fully connected layer
    [[1, 2, 9, 7], [3, 4, 4], 2, 1, true], // odd input with stride 2
    [[2, 3, 6, 6], [2, 3, 3], 2, 0, false],
    [[2, 3, 5, 5], [4, 2, 2], 2, 1, false], // kernel = stride, taps tile the padded input
    [[2, 3, 5, 5], [4, 2, 2], 2, 0, true], // kernel = stride, the last row and column unread
    [[1, 2, 12, 12], [128, 3, 3], 1, 1, false], // Cout and pixels >= 128: the large gpu tile
  ];
  for (const [xs, [Cout, KH, KW], stride, pad, withBias] of cases) {
    await t.step(
      `x [${xs}] w ${Cout}x${KH}x${KW} s${stride} p${pad}${withBias ? " bias" : ""}`,
      async () => {
        const inputs = [rng.uniform(xs), rng.uniform([Cout, xs[1], KH, KW])];
        if (withBias) inputs.push(rng.uniform([Cout]));
        await checkOp({
          name: "conv2d",
          inputs,
          gpu: ([x, w, b]) => conv2d(x, w, b, { stride, padding: pad }),
          reference: ([x, w, b]) => conv2dRef(x, w, b, stride, pad),
          atol: 2e-4,
        });
      },
    );
  }
});

Deno.test("convTranspose2d matches float64, with gradients", async (t) => {
  const rng = new HostRng(32);
  // [B, Cin, H, W], [Cout, KH, KW], stride, padding, outputPadding, bias
  const cases: [number[], number[], number, number, number, boolean][] = [
    [[2, 3, 4, 5], [4, 4, 4], 2, 1, 0, false], // generator upsampling 4x4 s2 p1
    [[3, 6, 1, 1], [5, 4, 4], 1, 0, 0, true], // generator stem: 1x1 -> 4x4
    [[2, 4, 3, 3], [3, 3, 3], 1, 1, 0, true],
    [[1, 2, 5, 4], [3, 3, 3], 2, 1, 1, false],
    [[2, 2, 3, 3], [2, 1, 1], 2, 0, 0, false], // kernel smaller than stride: zero phases
  ];
  for (const [xs, [Cout, KH, KW], stride, pad, extra, withBias] of cases) {
    await t.step(`x [${xs}] w ${Cout}x${KH}x${KW} s${stride} p${pad} op${extra}`, async () => {
      const inputs = [rng.uniform(xs), rng.uniform([xs[1], Cout, KH, KW])];
      if (withBias) inputs.push(rng.uniform([Cout]));
      await checkOp({
        name: "convTranspose2d",
        inputs,
        gpu: ([x, w, b]) =>
          convTranspose2d(x, w, b, { stride, padding: pad, outputPadding: extra }),
        reference: ([x, w, b]) => convTranspose2dRef(x, w, b, stride, pad, extra),
        atol: 2e-4,
      });
    });
  }
});

Deno.test("a convolution's fused activation matches the activation after it, with gradients", async (t) => {
  const rng = new HostRng(33);
  const leaky = { kind: "leakyRelu", slope: 0.2 } as const, tanh = { kind: "tanh" } as const;
  const apply = (activation: Activation, v: number) =>
    activation.kind === "tanh" ? Math.tanh(v) : v > 0 ? v : activation.slope * v;
  const activated = (ref: { shape: number[]; data: Float64Array }, activation: Activation) => ({
    shape: ref.shape,
    data: ref.data.map((v) => apply(activation, v)),
  });
  // [B, Cin, H, W], [Cout, KH, KW], stride, padding, bias, activation, transposed
  const cases: [number[], number[], number, number, boolean, Activation, boolean][] = [
    [[2, 3, 8, 8], [4, 4, 4], 2, 1, false, leaky, false], // the discriminator's first layer
    [[2, 4, 6, 6], [3, 3, 3], 1, 1, true, tanh, false], // an upsampling generator's rgb layer
    [[1, 64, 8, 8], [4, 3, 3], 1, 1, true, tanh, false], // K = 576 for 4 rows: split in K on GPUs
    [[2, 4, 3, 3], [3, 4, 4], 2, 1, false, tanh, true], // DCGAN's rgb layer
    [[2, 3, 4, 4], [2, 3, 3], 1, 1, true, leaky, true],
  ];
  for (const [xs, [Cout, KH, KW], stride, pad, withBias, activation, transposed] of cases) {
    const name = `${transposed ? "convTranspose2d" : "conv2d"} x [${xs}] w ${Cout}x${KH}x${KW} ` +
      `s${stride} p${pad}${withBias ? " bias" : ""} ${activation.kind}`;
    await t.step(name, async () => {
      const weight = transposed ? [xs[1], Cout, KH, KW] : [Cout, xs[1], KH, KW];
      const inputs = [rng.uniform(xs), rng.uniform(weight)];
      if (withBias) inputs.push(rng.uniform([Cout]));
      const options = { stride, padding: pad, activation };
      await checkOp({
        name,
        inputs,
        gpu: ([x, w, b]) =>
          transposed ? convTranspose2d(x, w, b, options) : conv2d(x, w, b, options),
        reference: ([x, w, b]) =>
          activated(
            transposed
              ? convTranspose2dRef(x, w, b, stride, pad, 0)
              : conv2dRef(x, w, b, stride, pad),
            activation,
          ),
        atol: 2e-4,
      });
    });
  }
  throws(
    () =>
      conv2d(zeros([1, 3, 8, 8]), zeros([4, 3, 3, 3]), undefined, {
        activation: { kind: "leakyRelu", slope: -1 },
      }),
    { name: "EngineError", message: /conv2d: leakySlope must be a finite number >= 0/ },
  );
});

Deno.test("conv shape errors name the shapes", () => {
  const x = zeros([1, 3, 8, 8]), w = zeros([4, 2, 3, 3]);
  throws(
    () => conv2d(x, w),
    (e) => e instanceof ShapeError && /weight \[4, 2, 3, 3\]/.test(e.message),
  );
  throws(() => conv2d(x, zeros([4, 3, 9, 9])), ShapeError);
  throws(() => convTranspose2d(x, w, undefined, { stride: 0 }), ShapeError);
});
