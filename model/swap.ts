/**
 * Concept swaps (the paper's part exchange and face swap, Figs. 5 and 6):
 * the target-layer maps of the chosen groups' kernels are copied from the
 * source image into the target's, and the tail finishes the image. A swap
 * runs the head once on [target, source] and the tail once on the swapped
 * maps (with the originals in the same run when the answer shows them).
 *
 * @module
 */

import { concatArrays } from "../core/concat.ts";
import { imageGrid, type RgbImage } from "../core/image.ts";
import { channelsCentre } from "../core/partition.ts";
import { REGION_THRESHOLD } from "../core/regions.ts";
import { type ImageSource, latentsOf, mapsOf, picture } from "./generation.ts";
import type { ConceptGroup } from "./manifest.ts";
import type { ServedModel } from "./model.ts";
import { differenceMap, normalisedMap, tintMask } from "./render.ts";

/** What a swap answer shows besides the swapped image. */
export const SWAP_EXTRAS = ["difference", "mask", "originals"] as const;

/** A swap's pictures, each of side `size`. */
export interface SwapPictures {
  groups: ConceptGroup[];
  swapped: RgbImage;
  target?: RgbImage;
  source?: RgbImage;
  /** Squared RGB difference between the target and the swapped image. */
  difference?: RgbImage;
  /**
   * The swapped region on the target: where any chosen group reaches the region threshold of its
   * own peak, in the target or the source.
   */
  mask?: RgbImage;
}

/**
 * The paper's group exchange: the target's maps [M, K] with the source's
 * maps of `channels`.
 */
export function swapMaps(
  targetMaps: Float32Array,
  sourceMaps: Float32Array,
  channels: readonly number[],
  k: number,
): Float32Array {
  const swapped = new Float32Array(targetMaps);
  for (const channel of channels) {
    swapped.set(sourceMaps.subarray(channel * k, (channel + 1) * k), channel * k);
  }
  return swapped;
}

/** Runs a swap of `groups` from `source` into `target`, drawing what `extras` asks for. */
export async function swapPictures(
  model: ServedModel,
  request: {
    target: ImageSource;
    source: ImageSource;
    groups: ConceptGroup[];
    truncation?: number;
    size: number;
    extras: ReadonlySet<typeof SWAP_EXTRAS[number]>;
  },
  signal: AbortSignal,
): Promise<SwapPictures> {
  const { groups, size, extras } = request;
  const maps = await model.maps(
    latentsOf(model, [request.target, request.source], request.truncation),
    2,
    signal,
  );
  const [targetMaps, sourceMaps] = [mapsOf(model, maps, 0), mapsOf(model, maps, 1)];
  const { height, width } = model.manifest.target;
  const k = height * width;
  const swappedMaps = swapMaps(targetMaps, sourceMaps, groups.flatMap((g) => g.channels), k);
  const needTarget = extras.has("difference") || extras.has("mask") || extras.has("originals");
  const rows = [
    swappedMaps,
    ...(needTarget ? [targetMaps] : []),
    ...(extras.has("originals") ? [sourceMaps] : []),
  ];
  const images = await model.images(concatArrays(Float32Array, rows), rows.length, signal);
  const result: SwapPictures = { groups, swapped: picture(model, images, 0, size) };
  if (!needTarget) return result;
  const target = picture(model, images, 1, size);
  if (extras.has("originals")) {
    Object.assign(result, { target, source: picture(model, images, 2, size) });
  }
  if (extras.has("difference")) result.difference = differenceMap(target, result.swapped);
  if (extras.has("mask")) {
    // The union of each group's own region (its centre over its own peak), in either image:
    // one centre of all groups over the largest peak would lose the weaker groups.
    const mask = new Float32Array(size * size);
    for (const group of groups) {
      for (const m of [targetMaps, sourceMaps]) {
        const centre = channelsCentre(m, group.channels, k);
        const region = normalisedMap(centre, 0, [height, width], group.peak, size);
        region.forEach((v, p) => {
          if (v >= REGION_THRESHOLD) mask[p] = 1;
        });
      }
    }
    result.mask = tintMask(target, mask);
  }
  return result;
}

/**
 * The pictures of a swap drawn with every extra side by side, as in the
 * paper's Fig. 5: target | mask | source | swapped | difference.
 */
export function swapStrip(pictures: SwapPictures): RgbImage {
  const { target, mask, source, swapped, difference } = pictures;
  if (!target || !mask || !source || !difference) {
    throw new RangeError("a swap strip needs the swap drawn with every extra.");
  }
  return imageGrid([target, mask, source, swapped, difference], 5);
}
