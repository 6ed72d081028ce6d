/**
 * The steps routes share: latents from seeds or explicit values, the
 * generator's two halves through the model's queue, pictures and PNG
 * responses.
 *
 * @module
 */

import { encodePng, type RgbImage } from "../training/data/image.ts";
import { latentForSeed } from "../model/latents.ts";
import { concatArrays } from "../training/data/concat.ts";
import { type ServedModel, UnknownConceptError } from "../model/model.ts";
import type { ConceptGroup } from "../model/manifest.ts";
import { invalidField } from "./problem.ts";
import { planarImage, resizeImage } from "../model/render.ts";

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

/** A PNG response of `image`. */
export function pngResponse(image: RgbImage): Response {
  return new Response(encodePng(image) as BodyInit, { headers: { "content-type": "image/png" } });
}

/** `image` as base64 PNG, for JSON responses. */
export function pngBase64Of(image: RgbImage): string {
  const bytes = encodePng(image);
  let text = "";
  for (let k = 0; k < bytes.length; k += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
  }
  return btoa(text);
}

/** The maps [M, H, W] of image `index` of maps [n, M, H, W]. */
export function mapsOf(model: ServedModel, maps: Float32Array, index: number): Float32Array {
  const { channels, height, width } = model.manifest.target;
  const stride = channels * height * width;
  return maps.subarray(index * stride, (index + 1) * stride);
}

/** The groups `names` name; an unknown name is an invalid `field`. */
export function resolveConceptsField(
  model: ServedModel,
  names: readonly string[],
  field: string,
): ConceptGroup[] {
  try {
    return model.resolveConcepts(names);
  } catch (error) {
    if (error instanceof UnknownConceptError) throw invalidField(field, error.message);
    throw error;
  }
}
