/**
 * Concept swaps (the paper's part exchange and face swap, Figs. 5 and 6):
 * the target-layer maps of the chosen groups' kernels are copied from the
 * source image into the target's, and the tail finishes the image. Modes
 * ({@link SWAP_MODES}):
 * - "groups", the paper's: only the chosen groups' channels, everywhere;
 * - "region": those, and every other channel too inside the chosen groups'
 *   region (where a group's centre reaches `SWAP_REGION_THRESHOLD` of its
 *   peak in the target, and in the source within `SOURCE_REACH` of that;
 *   each group's pieces within `PIECE_REACH` of its strongest one), so that
 *   what the other filters draw there (the skin's shading under a mouth, the
 *   eyes inside a face) travels with the part; the tail renders the seams;
 * - "wide": both images' regions whole, grown by `WIDE_MARGIN` positions (4
 *   pixels at 64x64), so that a face swap carries the face's contour too (its
 *   identity), at the cost of a part swap's locality.
 *
 * A swap runs the head once on [target, source] and the tail once on the
 * swapped maps (with the originals in the same run when the answer shows them).
 * The map arithmetic is `core/swap_maps.js`, which the studio page runs too.
 *
 * @module
 */

import { concatArrays } from "../core/concat.ts";
import { imageGrid, type RgbImage } from "../core/image.ts";
import {
  defaultSwapMode,
  grownRegion,
  SWAP_MODES,
  swapMaps,
  type SwapMode,
  swapRegion,
} from "../core/swap_maps.js";
import { type ImageSource, mapsOf, mapsOfSources, picture } from "./generation.ts";
import type { ConceptGroup } from "./manifest.ts";
import type { ServedModel } from "./model.ts";
import { differenceMap, regionMask } from "../core/pictures.js";
import { largePictureTurn } from "./render.ts";

/** What a swap answer shows besides the swapped image. */
export const SWAP_EXTRAS = ["difference", "mask", "originals"] as const;

export { defaultSwapMode, grownRegion, SWAP_MODES, swapMaps, type SwapMode, swapRegion };

/** A swap's pictures, each of side `size`. */
export interface SwapPictures {
  groups: ConceptGroup[];
  swapped: RgbImage;
  target?: RgbImage;
  source?: RgbImage;
  /** Squared RGB difference between the target and the swapped image. */
  difference?: RgbImage;
  /**
   * The swapped region on the target: where any chosen group reaches the swap threshold of its
   * own peak, in the target or the source (grown by the margin in mode "wide").
   */
  mask?: RgbImage;
}

/** Runs a swap of `groups` from `source` into `target`, drawing what `extras` asks for. */
export async function swapPictures(
  model: ServedModel,
  request: {
    target: ImageSource;
    source: ImageSource;
    groups: ConceptGroup[];
    mode: SwapMode;
    truncation?: number;
    size: number;
    extras: ReadonlySet<typeof SWAP_EXTRAS[number]>;
  },
  signal: AbortSignal,
): Promise<SwapPictures> {
  const { groups, size, extras } = request;
  const maps = await mapsOfSources(
    model,
    [request.target, request.source],
    request.truncation,
    signal,
  );
  const [targetMaps, sourceMaps] = [mapsOf(model, maps, 0), mapsOf(model, maps, 1)];
  const { height, width } = model.manifest.target;
  const k = height * width;
  const region = swapRegion(targetMaps, sourceMaps, groups, k, request.mode);
  const swappedMaps = swapMaps(targetMaps, sourceMaps, groups, k, request.mode, region);
  const needTarget = extras.has("difference") || extras.has("mask") || extras.has("originals");
  const rows = [
    swappedMaps,
    ...(needTarget ? [targetMaps] : []),
    ...(extras.has("originals") ? [sourceMaps] : []),
  ];
  const images = await model.images(concatArrays(Float32Array, rows), rows.length, signal);
  // Each picture is seconds of work at large sizes: a given-up job stops between them.
  const turn = () => largePictureTurn(model.manifest.resolution, size * size, signal);
  const result: SwapPictures = { groups, swapped: picture(model, images, 0, size) };
  if (!needTarget) return result;
  await turn();
  const target = picture(model, images, 1, size);
  if (extras.has("originals")) {
    await turn();
    Object.assign(result, { target, source: picture(model, images, 2, size) });
  }
  if (extras.has("difference")) {
    await turn();
    result.difference = differenceMap(target, result.swapped);
  }
  if (extras.has("mask")) {
    await turn();
    result.mask = regionMask(target, region, height, width);
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
