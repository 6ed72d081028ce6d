/**
 * Generation as requests ask for it: latents from seeds or explicit values,
 * the generator's two halves through the model's queue, and pictures of the
 * images at the size asked for.
 *
 * @module
 */

import { concatArrays } from "../core/concat.ts";
import type { RgbImage } from "../core/image.ts";
import { latentForSeed } from "./latents.ts";
import type { ServedModel } from "./model.ts";
import { planarImage, resizeImage } from "./render.ts";

/** An image named in a request: a seed, or an explicit latent. */
export type ImageSource = number | { latent: number[] };

/** The latents [n, Z] of `sources`, scaled by `truncation`. */
export function latentsOf(
  model: ServedModel,
  sources: readonly ImageSource[],
  truncation = 1,
): Float32Array {
  const z = model.manifest.latent;
  return concatArrays(
    Float32Array,
    sources.map((source) =>
      typeof source === "number"
        ? latentForSeed(source, z, truncation)
        : Float32Array.from(source.latent, (v) => v * truncation)
    ),
  );
}

/** The target-layer maps and images of `n` latents. */
export async function generate(
  model: ServedModel,
  latents: Float32Array,
  n: number,
  signal: AbortSignal,
): Promise<{ maps: Float32Array; images: Float32Array }> {
  const maps = await model.maps(latents, n, signal);
  return { maps, images: await model.images(maps, n, signal) };
}

/** Image `index` of planar images [n, 3, S, S] as a picture of side `size`. */
export function picture(
  model: ServedModel,
  images: Float32Array,
  index: number,
  size: number,
): RgbImage {
  return resizeImage(planarImage(images, index, model.manifest.resolution), size);
}

/** The maps [M, H, W] of image `index` of maps [n, M, H, W]. */
export function mapsOf(model: ServedModel, maps: Float32Array, index: number): Float32Array {
  const { channels, height, width } = model.manifest.target;
  const stride = channels * height * width;
  return maps.subarray(index * stride, (index + 1) * stride);
}

/** The pictures, each of side `size`, of `sources`. */
export async function generatePictures(
  model: ServedModel,
  request: { sources: readonly ImageSource[]; truncation?: number; size: number },
  signal: AbortSignal,
): Promise<RgbImage[]> {
  const n = request.sources.length;
  const latents = latentsOf(model, request.sources, request.truncation);
  const { images } = await generate(model, latents, n, signal);
  return Array.from({ length: n }, (_, k) => picture(model, images, k, request.size));
}
