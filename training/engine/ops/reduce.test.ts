import { throws } from "node:assert/strict";
import { initEngine } from "../engine.ts";
import { checkOp, HostRng } from "../testing/harness.ts";
import { sumRef } from "../testing/reference.ts";
import { tensor } from "../tensor.ts";
import { mean, sum } from "./reduce.ts";

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
    [[5000], [0], false], // long reduction: split into chunks
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
