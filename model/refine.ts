/**
 * Photos through the bundle's encoder and back through the generator, and
 * gradient steps in the latent with its vector-Jacobian products
 * (`head_vjp.onnx`, `tail_vjp.onnx`), no training engine needed: refining an
 * encoded photo's latent so that the generator's image of it comes closer
 * to the photo.
 *
 * @module
 */

import type { ServedModel } from "./model.ts";

/** Adam's settings of the refinement (Kingma and Ba's defaults but the rate). */
const BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8;

/** Adam's step size in the latent: its values are N(0, 1), so 0.05 moves each by a twentieth at most. */
export const REFINE_RATE = 0.05;

/**
 * `steps` Adam steps on each image's mean squared error of G(z) against its
 * photo (planar [n, 3, S, S] in [-1, 1]), from `latents` [n, Z]; returns the
 * refined latents. Each step runs the head, the tail and both VJPs.
 */
export async function refineToPhotos(
  model: ServedModel,
  latents: Float32Array,
  photos: Float32Array,
  n: number,
  steps: number,
  signal: AbortSignal,
): Promise<Float32Array> {
  const z = Float32Array.from(latents);
  const m = new Float32Array(z.length), v = new Float32Array(z.length);
  const pixels = photos.length / n;
  for (let t = 1; t <= steps; t++) {
    const maps = await model.maps(z, n, signal);
    const images = await model.images(maps, n, signal);
    // d/dimage of mean((image - photo)^2) per image.
    const upstream = images.map((value, k) => (2 * (value - photos[k])) / pixels);
    const mapsGrad = await model.tailVjp(maps, upstream, n, signal);
    const grad = await model.headVjp(z, mapsGrad, n, signal);
    const c1 = 1 - BETA1 ** t, c2 = 1 - BETA2 ** t;
    for (let k = 0; k < z.length; k++) {
      m[k] = BETA1 * m[k] + (1 - BETA1) * grad[k];
      v[k] = BETA2 * v[k] + (1 - BETA2) * grad[k] ** 2;
      z[k] -= (REFINE_RATE * (m[k] / c1)) / (Math.sqrt(v[k] / c2) + EPS);
    }
  }
  return z;
}

/**
 * The encoder's latents [n, Z] of photos (planar [n, 3, S, S] in [-1, 1]),
 * refined by `steps` Adam steps ({@link refineToPhotos}; 0 for none), and
 * the generator's images of them, in runs of at most the model's batch.
 */
export async function reconstructPhotos(
  model: ServedModel,
  photos: Float32Array,
  n: number,
  steps: number,
  signal: AbortSignal,
): Promise<{ latents: Float32Array; images: Float32Array }> {
  const plane = photos.length / n, z = model.manifest.latent;
  const latents = new Float32Array(n * z), images = new Float32Array(n * plane);
  for (let from = 0; from < n; from += model.maxBatch) {
    const count = Math.min(model.maxBatch, n - from);
    const batch = photos.subarray(from * plane, (from + count) * plane);
    const encoded = await model.encode(batch, count, signal);
    const refined = steps > 0
      ? await refineToPhotos(model, encoded, batch, count, steps, signal)
      : encoded;
    latents.set(refined, from * z);
    images.set(
      await model.images(await model.maps(refined, count, signal), count, signal),
      from * plane,
    );
  }
  return { latents, images };
}
