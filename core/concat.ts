/**
 * Typed arrays laid end to end: batches of latents, maps or images as the
 * onnxruntime sessions take and give them, and the chunks of a PNG file.
 *
 * @module
 */

/** The arrays of `parts` laid end to end in one new array of type `kind`. */
export function concatArrays<T extends Float32Array | Uint8Array>(
  kind: new (length: number) => T,
  parts: readonly T[],
): T {
  const out = new kind(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
