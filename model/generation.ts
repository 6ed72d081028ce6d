/**
 * Generation as requests ask for it: latents from seeds, explicit values or
 * photos (through the model's encoder), the generator's two halves through
 * the model's queue, and pictures of the images at the size asked for.
 *
 * @module
 */

import { concatArrays } from "../core/concat.ts";
import { ImageDecodeError, photoPixels, type RgbImage } from "../core/image.ts";
import { latentForSeed } from "./latents.ts";
import type { ServedModel } from "./model.ts";
import { DEFAULT_FIT_STEPS, fitMapsToPhotos } from "./refine.ts";
import { resizeImage } from "./render.ts";
import { planarPicture } from "../core/pictures.js";

/**
 * An image named in a request: a seed, an explicit latent, or a photo (JPEG
 * or PNG bytes, whose size the request's validation has already checked)
 * with the steps that fit its target-layer maps to it (`fit`; absent: the
 * model's default, {@link photoFitSteps}).
 */
export type ImageSource = number | { latent: number[] } | PhotoSource;

/** A photo among a request's images. */
export interface PhotoSource {
  photo: Uint8Array;
  fit?: number;
  /** The request field it came in, which a decoding failure names. */
  field?: string;
}

/** Whether `source` is a photo. */
export function isPhoto(source: ImageSource): source is PhotoSource {
  return typeof source === "object" && "photo" in source;
}

/**
 * The steps fitting a photo's maps: `fit` as asked, else
 * {@link DEFAULT_FIT_STEPS} where the model has the tail's VJP to take them
 * and none where it has not.
 */
export function photoFitSteps(model: ServedModel, fit: number | undefined): number {
  return fit ?? (model.hasGradients ? DEFAULT_FIT_STEPS : 0);
}

/**
 * The latents [n, Z] of `sources`, scaled by `truncation`: seeds drawn,
 * latents as given, photos encoded (all in one run of the encoder); and each
 * photo's pixels ({@link photoPixels}; null for the others).
 */
async function encodeSources(
  model: ServedModel,
  sources: readonly ImageSource[],
  truncation: number | undefined,
  signal: AbortSignal,
): Promise<{ latents: Float32Array; pixels: (Float32Array | null)[] }> {
  const z = model.manifest.latent, psi = truncation ?? 1;
  const pixels = sources.map((source) => {
    if (!isPhoto(source)) return null;
    try {
      return photoPixels(source.photo, model.manifest.resolution);
    } catch (error) {
      if (!(error instanceof ImageDecodeError) || source.field === undefined) throw error;
      throw new ImageDecodeError(error.message, source.field);
    }
  });
  const photos = pixels.filter((p) => p !== null);
  const encoded = photos.length === 0
    ? new Float32Array(0)
    : await model.encode(concatArrays(Float32Array, photos), photos.length, signal);
  let photo = 0;
  const latents = concatArrays(
    Float32Array,
    sources.map((source) => {
      if (typeof source === "number") return latentForSeed(source, z, psi);
      const values = "latent" in source ? source.latent : encoded.subarray(z * photo, z * ++photo);
      return Float32Array.from(values, (v) => v * psi);
    }),
  );
  return { latents, pixels };
}

/**
 * The latents [n, Z] of `sources`, scaled by `truncation`: seeds drawn,
 * latents as given, photos encoded (all in one run of the encoder).
 */
export async function latentsOf(
  model: ServedModel,
  sources: readonly ImageSource[],
  truncation: number | undefined,
  signal: AbortSignal,
): Promise<Float32Array> {
  return (await encodeSources(model, sources, truncation, signal)).latents;
}

/**
 * The target-layer maps [n, M, H, W] of `sources`: the head's maps of their
 * latents ({@link latentsOf}), each photo's then fitted to the photo by its
 * {@link photoFitSteps} (so that its own face, not the generator's nearest
 * one, is what swaps and maps show).
 */
export async function mapsOfSources(
  model: ServedModel,
  sources: readonly ImageSource[],
  truncation: number | undefined,
  signal: AbortSignal,
): Promise<Float32Array> {
  const n = sources.length;
  const { latents, pixels } = await encodeSources(model, sources, truncation, signal);
  const maps = await model.maps(latents, n, signal);
  const steps = sources.map((source) => isPhoto(source) ? photoFitSteps(model, source.fit) : 0);
  if (steps.every((t) => t === 0)) return maps;
  // A copy of the run's output, whose photo rows are replaced by fitted ones.
  const fitted = Float32Array.from(maps), size = maps.length / n;
  for (const [k, t] of steps.entries()) {
    if (t === 0) continue;
    const own = fitted.subarray(k * size, (k + 1) * size);
    fitted.set(await fitMapsToPhotos(model, own, pixels[k]!, 1, t, signal), k * size);
  }
  return fitted;
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
  return resizeImage(planarPicture(images, index, model.manifest.resolution), size);
}

/** The maps [M, H, W] of image `index` of maps [n, M, H, W]. */
export function mapsOf(model: ServedModel, maps: Float32Array, index: number): Float32Array {
  const stride = model.mapsSize;
  return maps.subarray(index * stride, (index + 1) * stride);
}

/** The pictures, each of side `size`, of `sources`. */
export async function generatePictures(
  model: ServedModel,
  request: { sources: readonly ImageSource[]; truncation?: number; size: number },
  signal: AbortSignal,
): Promise<RgbImage[]> {
  const n = request.sources.length;
  const latents = await latentsOf(model, request.sources, request.truncation, signal);
  const { images } = await generate(model, latents, n, signal);
  return Array.from({ length: n }, (_, k) => picture(model, images, k, request.size));
}
