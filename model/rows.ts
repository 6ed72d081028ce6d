/**
 * Batches as flat arrays: rows of latents, maps or images laid end to end,
 * as the onnxruntime sessions take and give them.
 *
 * @module
 */

/** The arrays of `parts` (each one row or several) laid end to end in one array. */
export function concatRows(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
