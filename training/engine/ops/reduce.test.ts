import { throws } from "node:assert/strict";
import { denseView } from "../backend.ts";
import { backend, initEngine } from "../engine.ts";
import { assertClose, checkOp, HostRng } from "../testing/harness.ts";
import { sumRef } from "../testing/reference.ts";
import { asyncScope, empty, tensor } from "../tensor.ts";
import { mean, meanSoftplus, sum } from "./reduce.ts";

await initEngine();

Deno.test("sum and mean over axes match float64, with gradients", async (t) => {
  const rng = new HostRng(11);
  const cases: [number[], number[], boolean][] = [
    [[7], [0], false],
    [[4, 5], [1], false],
    [[4, 5], [0], true],
    [[2, 3, 4, 5], [0, 2, 3], false], // batch-norm statistics layout
    [[3, 70, 9], [1], true],
    [[2, 3, 4], [0, 1, 2], false],
    [[5000], [0], false], // long reduction: one workgroup sums it (WebGPU)
    [[300000], [0], false], // longer than a workgroup sums in one pass: partial sums (WebGPU)
  ];
  for (const [shape, axes, keepDims] of cases) {
    await t.step(`[${shape}] over [${axes}]${keepDims ? " keepDims" : ""}`, async () => {
      const x = rng.uniform(shape);
      const n = axes.reduce((a, k) => a * shape[k], 1);
      await checkOp({
        name: "sum",
        inputs: [x],
        gpu: ([v]) => sum(v, axes, keepDims),
        reference: ([v]) => sumRef(v, axes, keepDims),
      });
      await checkOp({
        name: "mean",
        inputs: [x],
        gpu: ([v]) => mean(v, axes, keepDims),
        reference: ([v]) => sumRef(v, axes, keepDims, 1 / n),
      });
    });
  }
});

Deno.test("meanSoftplus matches float64 for either sign, large logits included, with gradients", async (t) => {
  const rng = new HostRng(12);
  const softplusRef = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
  for (const sign of [1, -1] as const) {
    for (const [shape, low, high] of [[[64, 1], -4, 4], [[3, 5], -60, 60]] as const) {
      await t.step(`sign ${sign}, [${shape}] in [${low}, ${high}]`, async () => {
        await checkOp({
          name: "meanSoftplus",
          inputs: [rng.uniform([...shape], low, high)],
          gpu: ([v]) => meanSoftplus(v, sign),
          reference: ([v]) => ({
            shape: [],
            data: Float64Array.of(
              v.data.reduce((a, x) => a + softplusRef(sign * x), 0) / v.data.length,
            ),
          }),
        });
      });
    }
  }
});

Deno.test("negative axes count from the end; bad axes throw", async () => {
  const rng = new HostRng(12);
  await checkOp({
    name: "sum(-1)",
    inputs: [rng.uniform([3, 4])],
    gpu: ([v]) => sum(v, -1),
    reference: ([v]) => sumRef(v, [1]),
  });
  const x = tensor([1, 2, 3, 4], [2, 2]);
  throws(() => sum(x, 2), {
    name: "ShapeError",
    message: "Axis 2 is out of range for a tensor of rank 2.",
  });
  x.dispose();
});

Deno.test("a reduction with several outputs sums each one's formula in the same pass", async (t) => {
  // Short and long (split into partial sums on WebGPU) reduced ranges.
  for (const shape of [[2, 3, 4], [40, 3, 50]]) {
    await t.step(`[${shape}] over [0, 2]`, async () => {
      const rng = new HostRng(12);
      const x = rng.uniform(shape), y = rng.uniform([3]);
      await asyncScope(async () => {
        const xs = tensor(Float32Array.from(x.data), shape), ys = tensor(Float32Array.from(y.data));
        const a = empty([3]), b = empty([3]);
        backend().reduce({
          name: "two_sums",
          shape,
          axes: [0, 2],
          inputs: [
            { buffer: xs.buffer, view: denseView(shape) },
            { buffer: ys.buffer, view: { strides: [0, 1, 0], offset: 0 } },
          ],
          outputs: [
            { buffer: a.buffer, expr: "x0 * x1", scale: 0.5 },
            { buffer: b.buffer, expr: "x0 * x0" },
          ],
        });
        const [n, c, w] = shape;
        const expected = (f: (v: number, ch: number) => number, scale: number) =>
          Array.from({ length: c }, (_, ch) => {
            let total = 0;
            for (let i = 0; i < n; i++) {
              for (let j = 0; j < w; j++) total += f(x.data[(i * c + ch) * w + j], ch);
            }
            return scale * total;
          });
        const f32 = (v: number) => Math.fround(v);
        assertClose(
          await a.data(),
          Float64Array.from(expected((v, ch) => f32(v) * f32(y.data[ch]), 0.5)),
          "first output",
          1e-4,
          1e-4,
        );
        assertClose(
          await b.data(),
          Float64Array.from(expected((v) => f32(v) ** 2, 1)),
          "second output",
          1e-4,
          1e-4,
        );
      });
    });
  }
});

Deno.test("a reduction's epilogue reads its sums, per-output operands and scalars", async (t) => {
  // One pass per output, one workgroup per output, and partial sums in two passes (WebGPU).
  for (const shape of [[2, 3, 4], [40, 3, 50], [2, 3, 140000]]) {
    await t.step(`[${shape}] over [0, 2]`, async () => {
      const rng = new HostRng(13);
      const x = rng.uniform(shape), y = rng.uniform([3]);
      const [n, c, w] = shape;
      await asyncScope(async () => {
        const xs = tensor(Float32Array.from(x.data), shape), ys = tensor(Float32Array.from(y.data));
        // Both rows of `rows` are written by one kernel: a sum at offset 3, the epilogue at 0.
        const rows = empty([2, 3]), other = empty([3]);
        backend().reduce({
          name: "epilogue_sums",
          shape,
          axes: [0, 2],
          // x read twice: densely and as each channel's first value (one binding on WebGPU).
          inputs: [
            { buffer: xs.buffer, view: denseView(shape) },
            { buffer: xs.buffer, view: { strides: [0, w, 0], offset: 0 } },
          ],
          outputs: [
            { buffer: rows.buffer, offset: 3, expr: "x0 - x1", scale: 1 / (n * w) },
            { expr: "x0 * x0" },
          ],
          epilogue: {
            inputs: [ys.buffer],
            lets: [{ name: "spread", expr: "r1 * s0 - r0 * r0" }],
            outputs: [
              { buffer: rows.buffer, expr: "spread * y0 + s1" },
              { buffer: other.buffer, expr: "sqrt(abs(r1)) - y0" },
            ],
            scalars: [1 / (n * w), 0.25],
          },
        });
        const at = (i: number, ch: number, j: number) => Math.fround(x.data[(i * c + ch) * w + j]);
        const sums = Array.from({ length: c }, (_, ch) => {
          let shifted = 0, squares = 0;
          for (let i = 0; i < n; i++) {
            for (let j = 0; j < w; j++) {
              shifted += at(i, ch, j) - at(0, ch, 0);
              squares += at(i, ch, j) ** 2;
            }
          }
          return { r0: shifted / (n * w), r1: squares };
        });
        const yv = (ch: number) => Math.fround(y.data[ch]);
        assertClose(
          await rows.data(),
          Float64Array.from([
            ...sums.map(({ r0, r1 }, ch) => (r1 / (n * w) - r0 * r0) * yv(ch) + 0.25),
            ...sums.map(({ r0 }) => r0),
          ]),
          "the epilogue's row and the written sum",
          1e-4,
          1e-4,
        );
        assertClose(
          await other.data(),
          Float64Array.from(sums.map(({ r1 }, ch) => Math.sqrt(r1) - yv(ch))),
          "the epilogue's second output",
          1e-4,
          1e-4,
        );
      });
    });
  }
});
