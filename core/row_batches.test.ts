import { deepEqual } from "node:assert/strict";
import { inRowBatches } from "./row_batches.ts";

Deno.test("inRowBatches: runs of at most the batch, outputs in row order", async () => {
  const input = Float32Array.from({ length: 10 }, (_, k) => k); // 5 rows of 2
  const counts: number[] = [];
  const out = await inRowBatches(input, 5, 2, (rows, count) => {
    counts.push(count);
    // One value a row: its first, times 10.
    return Promise.resolve(Float32Array.from({ length: count }, (_, r) => rows[2 * r] * 10));
  });
  deepEqual(counts, [2, 2, 1]);
  deepEqual([...out], [0, 20, 40, 60, 80]);
  deepEqual([...await inRowBatches(new Float32Array(0), 0, 4, () => Promise.reject())], []);
});
