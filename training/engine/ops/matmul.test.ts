import { throws } from "node:assert/strict";
import { initEngine } from "../engine.ts";
import { ShapeError } from "../errors.ts";
import { checkOp, HostRng } from "../testing/harness.ts";
import { mapRef, matmulRef } from "../testing/reference.ts";
import { tensor } from "../tensor.ts";
import { linear, matmul } from "./matmul.ts";

await initEngine();

Deno.test("matmul matches float64 for odd sizes, transposes and batches", async (t) => {
  const rng = new HostRng(21);
  const cases: [number[], number[], boolean, boolean][] = [
    [[1, 1], [1, 1], false, false],
    [[5, 3], [3, 7], false, false],
    [[3, 5], [3, 7], true, false],
    [[5, 3], [7, 3], false, true],
    [[3, 5], [7, 3], true, true],
    [[13, 70], [70, 33], false, false], // not multiples of any tile size
    [[2, 9, 17], [2, 17, 5], false, false],
    [[9, 17], [3, 17, 65], false, false], // a shared by all batches
    [[3, 9, 17], [65, 17], false, true], // b shared
    [[2, 3, 4, 5], [2, 3, 5, 6], false, false],
    [[4, 600], [600, 3], false, false], // long K: split-K path
    [[3, 40], [40, 70], false, false], // M = 3 and M = 2: the cpu variant's rotated rows
    [[2, 2, 33], [2, 19, 33], false, true],
    [[40, 130], [150, 40], true, true], // M, N >= 128: the large gpu tile
  ];
  for (const [sa, sb, ta, tb] of cases) {
    await t.step(`[${sa}]${ta ? "^T" : ""} @ [${sb}]${tb ? "^T" : ""}`, async () => {
      await checkOp({
        name: "matmul",
        inputs: [rng.uniform(sa), rng.uniform(sb)],
        gpu: ([a, b]) => matmul(a, b, { transposeA: ta, transposeB: tb }),
        reference: ([a, b]) => matmulRef(a, b, ta, tb),
        atol: 2e-4,
      });
    });
  }
});

Deno.test("linear is x @ w^T + bias", async () => {
  const rng = new HostRng(22);
  await checkOp({
    name: "linear",
    inputs: [rng.uniform([6, 10]), rng.uniform([4, 10]), rng.uniform([4])],
    gpu: ([x, w, b]) => linear(x, w, b),
    reference: ([x, w, b]) => mapRef([matmulRef(x, w, false, true), b], (p, q) => p + q),
  });
});

Deno.test("matmul rejects mismatched inner sizes with the shapes in the message", () => {
  const a = tensor(new Float32Array(6), [2, 3]), b = tensor(new Float32Array(8), [4, 2]);
  throws(
    () => matmul(a, b),
    (e) => e instanceof ShapeError && /\[2, 3\] @ \[4, 2\] has inner sizes 3 and 4/.test(e.message),
  );
  a.dispose();
  b.dispose();
});
