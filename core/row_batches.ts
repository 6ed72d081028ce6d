/**
 * Work over the rows of a batch [n, ...] in runs of a bounded size, for
 * networks whose memory or wasm heap holds only so many images at once.
 *
 * @module
 */

import { concatArrays } from "./concat.ts";

/**
 * `run` over the rows of `input` [n, ...] in runs of at most `batch` rows,
 * its outputs laid end to end in row order.
 */
export async function inRowBatches(
  input: Float32Array,
  n: number,
  batch: number,
  run: (rows: Float32Array, count: number) => Promise<Float32Array>,
): Promise<Float32Array> {
  const size = n === 0 ? 0 : input.length / n, parts: Float32Array[] = [];
  for (let from = 0; from < n; from += batch) {
    const count = Math.min(batch, n - from);
    parts.push(await run(input.subarray(from * size, (from + count) * size), count));
  }
  return concatArrays(Float32Array, parts);
}
