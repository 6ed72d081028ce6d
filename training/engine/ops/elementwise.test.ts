import { initEngine } from "../engine.ts";
import { checkOp, HostRng, type HostTensor } from "../testing/harness.ts";
import { mapRef } from "../testing/reference.ts";
import type { Tensor } from "../tensor.ts";
import * as ops from "./elementwise.ts";

await initEngine();

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const unaryCases: [string, (x: Tensor) => Tensor, (v: number) => number, [number, number]][] = [
  ["relu", ops.relu, (v) => Math.max(v, 0), [-2, 2]],
  ["leakyRelu", (x) => ops.leakyRelu(x, 0.2), (v) => (v > 0 ? v : 0.2 * v), [-2, 2]],
  ["tanh", ops.tanh, Math.tanh, [-3, 3]],
  ["sigmoid", ops.sigmoid, sigmoid, [-6, 6]],
  ["softplus", ops.softplus, (v) => Math.log1p(Math.exp(v)), [-6, 6]],
  ["exp", ops.exp, Math.exp, [-2, 2]],
  ["log", ops.log, Math.log, [0.2, 3]],
  ["neg", ops.neg, (v) => -v, [-2, 2]],
  ["square", ops.square, (v) => v * v, [-2, 2]],
  ["sqrt", ops.sqrt, Math.sqrt, [0.2, 3]],
  ["abs", ops.abs, Math.abs, [-2, 2]],
];

Deno.test("unary ops match float64 and finite differences", async (t) => {
  const rng = new HostRng(1);
  for (const [name, gpu, f, [lo, hi]] of unaryCases) {
    await t.step(name, async () => {
      for (const shape of [[1], [7], [3, 5, 9], [2, 1, 130]]) {
        await checkOp({
          name: `${name} [${shape}]`,
          inputs: [rng.uniform(shape, lo, hi)],
          gpu: ([x]) => gpu(x),
          reference: ([x]) => mapRef([x], f),
        });
      }
    });
  }
});

const binaryCases: [string, typeof ops.add, (a: number, b: number) => number][] = [
  ["add", ops.add, (a, b) => a + b],
  ["sub", ops.sub, (a, b) => a - b],
  ["mul", ops.mul, (a, b) => a * b],
  ["div", ops.div, (a, b) => a / b],
  ["maximum", ops.maximum, (a, b) => Math.max(a, b)],
];

Deno.test("binary ops broadcast like numpy, with gradients", async (t) => {
  const rng = new HostRng(2);
  const shapePairs: [number[], number[]][] = [
    [[4, 3], [4, 3]],
    [[4, 3], [3]],
    [[2, 1, 5], [3, 1]],
    [[1], [6, 7]],
    [[3, 1, 4, 1], [2, 1, 5]],
  ];
  for (const [name, gpu, f] of binaryCases) {
    await t.step(name, async () => {
      for (const [sa, sb] of shapePairs) {
        // Operands kept away from 0 (div) and from each other (maximum's kink).
        const a = rng.uniform(sa, 0.5, 2), b = rng.uniform(sb, -2, -0.5);
        await checkOp({
          name: `${name} [${sa}] [${sb}]`,
          inputs: [a, b],
          gpu: ([x, y]) => gpu(x, y),
          reference: ([x, y]) => mapRef([x, y], f),
        });
      }
    });
  }
});

Deno.test("scalar operands are uniforms, on either side", async () => {
  const rng = new HostRng(3);
  const x: HostTensor = rng.uniform([5, 6], 0.5, 2);
  await checkOp({
    name: "3 - x",
    inputs: [x],
    gpu: ([v]) => ops.sub(3, v),
    reference: ([v]) => mapRef([v], (e) => 3 - e),
  });
  await checkOp({
    name: "x / 4",
    inputs: [x],
    gpu: ([v]) => ops.div(v, 4),
    reference: ([v]) => mapRef([v], (e) => e / 4),
  });
});

Deno.test("where picks by condition and routes gradients", async () => {
  const rng = new HostRng(4);
  await checkOp({
    name: "where",
    inputs: [rng.uniform([3, 4]), rng.uniform([3, 4]), rng.uniform([4])],
    differentiate: [1, 2],
    gpu: ([c, a, b]) => ops.where(c, a, b),
    reference: ([c, a, b]) => mapRef([c, a, b], (cv, av, bv) => (cv > 0 ? av : bv)),
  });
});
