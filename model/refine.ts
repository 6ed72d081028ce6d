/**
 * Photos through the bundle's encoder and back through the generator, and
 * gradient steps with its vector-Jacobian products (`head_vjp.onnx`,
 * `tail_vjp.onnx`), no training engine needed:
 *
 * - refining an encoded photo's latent so that the generator's image of it
 *   comes closer to the photo ({@link refineToPhotos});
 * - fitting the photo's target-layer maps themselves ({@link fitMapsToPhotos}):
 *   the layer that swaps and maps edit, whose 32 x 32 x M values can draw the
 *   photo's own face where a latent of 128 numbers draws a look-alike.
 *
 * @module
 */

import type { ServedModel } from "./model.ts";

/** Adam's settings (Kingma and Ba's defaults but the rate, which each use sets). */
const BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8;

/** Adam's step size in the latent: its values are N(0, 1), so 0.05 moves each by a twentieth at most. */
export const REFINE_RATE = 0.05;

/**
 * Adam's step size on the target-layer maps (ReLU outputs, peaks of about 5
 * to 10): 0.02 reached 33 dB on held-out photos in 25 steps, 0.1 stalled
 * near 29 dB in 50 (the default bundle, 50 photos).
 */
export const FIT_RATE = 0.02;

/** Fitting steps a photo gets when a request does not say. */
export const DEFAULT_FIT_STEPS = 25;

/**
 * Adam on one array of parameters, in place; values below `floor` are
 * clamped to it after each step (a projected step, for ReLU outputs).
 */
class Adam {
  readonly #m: Float32Array;
  readonly #v: Float32Array;
  #t = 0;

  constructor(readonly values: Float32Array, readonly rate: number, readonly floor = -Infinity) {
    this.#m = new Float32Array(values.length);
    this.#v = new Float32Array(values.length);
  }

  step(grad: Float32Array): void {
    const m = this.#m, v = this.#v, x = this.values;
    const t = ++this.#t, c1 = 1 - BETA1 ** t, c2 = 1 - BETA2 ** t;
    for (let k = 0; k < x.length; k++) {
      m[k] = BETA1 * m[k] + (1 - BETA1) * grad[k];
      v[k] = BETA2 * v[k] + (1 - BETA2) * grad[k] ** 2;
      x[k] = Math.max(this.floor, x[k] - (this.rate * (m[k] / c1)) / (Math.sqrt(v[k] / c2) + EPS));
    }
  }
}

/** d/dimage of each image's mean squared error against its photo (both planar, `n` of them). */
function pixelErrorGradient(images: Float32Array, photos: Float32Array, n: number): Float32Array {
  const pixels = photos.length / n;
  return images.map((value, k) => (2 * (value - photos[k])) / pixels);
}

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
  const adam = new Adam(Float32Array.from(latents), REFINE_RATE);
  for (let t = 0; t < steps; t++) {
    const maps = await model.maps(adam.values, n, signal);
    const upstream = pixelErrorGradient(await model.images(maps, n, signal), photos, n);
    const mapsGrad = await model.tailVjp(maps, upstream, n, signal);
    adam.step(await model.headVjp(adam.values, mapsGrad, n, signal));
  }
  return adam.values;
}

/**
 * `steps` Adam steps on each image's mean squared error of tail(maps)
 * against its photo, from target-layer `maps` [n, M, H, W]; returns the
 * fitted maps, kept >= 0 as the target layer's ReLU keeps them (so swap
 * regions, thresholds of the maps' peaks, mean what they mean for generated
 * faces). Each step runs the tail and its VJP.
 */
export async function fitMapsToPhotos(
  model: ServedModel,
  maps: Float32Array,
  photos: Float32Array,
  n: number,
  steps: number,
  signal: AbortSignal,
): Promise<Float32Array> {
  const adam = new Adam(Float32Array.from(maps), FIT_RATE, 0);
  for (let t = 0; t < steps; t++) {
    const upstream = pixelErrorGradient(await model.images(adam.values, n, signal), photos, n);
    adam.step(await model.tailVjp(adam.values, upstream, n, signal));
  }
  return adam.values;
}

/** How a photo is taken into the generator. */
export interface PhotoFit {
  /** Steps refining the encoder's latent ({@link refineToPhotos}); 0 for none. */
  refine: number;
  /** Steps fitting the latent's target-layer maps ({@link fitMapsToPhotos}); 0 for none. */
  fit: number;
}

/**
 * Photos (planar [n, 3, S, S] in [-1, 1]) taken into the generator: the
 * encoder's latents [n, Z], refined as `how` says; their target-layer maps,
 * fitted as it says; and the generator's images of those maps. In runs of at
 * most the model's batch, each told to `onProgress` (photos done, of `n`).
 */
export async function reconstructPhotos(
  model: ServedModel,
  photos: Float32Array,
  n: number,
  how: PhotoFit,
  signal: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<{ latents: Float32Array; maps: Float32Array; images: Float32Array }> {
  const plane = photos.length / n, z = model.manifest.latent, mapSize = model.mapsSize;
  const latents = new Float32Array(n * z), images = new Float32Array(n * plane);
  const maps = new Float32Array(n * mapSize);
  for (let from = 0; from < n; from += model.maxBatch) {
    const count = Math.min(model.maxBatch, n - from);
    const batch = photos.subarray(from * plane, (from + count) * plane);
    const encoded = await model.encode(batch, count, signal);
    const refined = how.refine > 0
      ? await refineToPhotos(model, encoded, batch, count, how.refine, signal)
      : encoded;
    const generated = await model.maps(refined, count, signal);
    const fitted = how.fit > 0
      ? await fitMapsToPhotos(model, generated, batch, count, how.fit, signal)
      : generated;
    latents.set(refined, from * z);
    maps.set(fitted, from * mapSize);
    images.set(await model.images(fitted, count, signal), from * plane);
    onProgress?.(from + count, n);
  }
  return { latents, maps, images };
}
