/**
 * Pictures of generated images and their target-layer maps, as RGB images
 * the routes encode to PNG:
 *
 * - a map is divided by its peak over the export's evaluation images (so one
 *   kernel looks the same on every image), clipped to [0, 1] and scaled to
 *   the picture by bilinear interpolation;
 * - `heat`: the map in a black-red-yellow-white colour scale;
 * - `overlay`: the heat map blended over the image, more where it is stronger;
 * - `contour`: the paper's Fig. 3 recipe (after icCNN): the region where the
 *   map reaches {@link REGION_THRESHOLD} of its peak outlined in red, the
 *   image outside it dimmed by half.
 *
 * @module
 */

import type { RgbImage } from "../core/image.ts";
import { REGION_THRESHOLD } from "../core/regions.ts";
import { blendPixel, heatColor, resizePlanes } from "../core/pictures.js";

/** How a map is drawn. */
export const MAP_STYLES = ["heat", "overlay", "contour"] as const;

/** One of {@link MAP_STYLES}. */
export type MapStyle = typeof MAP_STYLES[number];

/**
 * Before work on a picture of `pixels` pixels: when it is large (over four of
 * the model's `resolution` x `resolution` images), lets the thread's events
 * run, then stops if `signal` has aborted. A render worker reads a cancel only
 * between tasks, so that a given-up job stops here rather than drawing and
 * encoding pictures, seconds of work at 1024 px, that no one reads.
 */
export async function largePictureTurn(
  resolution: number,
  pixels: number,
  signal: AbortSignal,
): Promise<void> {
  if (pixels <= 4 * resolution ** 2) return;
  await new Promise((resolve) => setTimeout(resolve, 0));
  signal.throwIfAborted();
}

/** `image` resized to `size` x `size` (bilinear); the same image when it already has that size. */
export function resizeImage(image: RgbImage, size: number): RgbImage {
  if (image.width === size && image.height === size) return image;
  const values = resizePlanes(image.data, image.height, image.width, 3, size);
  // A plain loop: Uint8Array.from with a mapping function was 20-40 times slower at 512 px and up.
  const data = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = Math.round(values[i]);
  return { width: size, height: size, data };
}

/**
 * Map `index` of maps [n, channels, h, w] divided by `peak`, clipped to
 * [0, 1] and resized to `size` x `size`. A zero peak (a filter that never
 * fired) gives zeros.
 */
export function normalisedMap(
  maps: Float32Array,
  index: number,
  [h, w]: readonly [number, number],
  peak: number,
  size: number,
): Float32Array {
  const plane = new Float32Array(h * w);
  if (peak > 0) {
    for (let p = 0; p < plane.length; p++) {
      plane[p] = Math.min(Math.max(maps[index * h * w + p] / peak, 0), 1);
    }
  }
  return resizePlanes(plane, h, w, 1, size);
}

/** A map in [0, 1] (`size` x `size`) drawn in `style` over `image` (same size). */
export function drawMap(map: Float32Array, image: RgbImage, style: MapStyle): RgbImage {
  const size = image.width, data = new Uint8Array(size * size * 3);
  if (style === "contour") {
    const inside = new Uint8Array(size * size);
    for (let p = 0; p < inside.length; p++) inside[p] = map[p] >= REGION_THRESHOLD ? 1 : 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const p = y * size + x;
        // An edge: inside, with a 4-neighbour outside (or at the picture's border).
        const edge = inside[p] === 1 &&
          (x === 0 || y === 0 || x === size - 1 || y === size - 1 ||
            inside[p - 1] + inside[p + 1] + inside[p - size] + inside[p + size] < 4);
        for (let c = 0; c < 3; c++) {
          const v = image.data[p * 3 + c];
          data[p * 3 + c] = edge ? (c === 0 ? 255 : 0) : inside[p] ? v : v >> 1;
        }
      }
    }
    return { width: size, height: size, data };
  }
  for (let p = 0; p < size * size; p++) {
    blendPixel(data, image.data, p, heatColor(map[p]), 0, style === "heat" ? 1 : 0.75 * map[p]);
  }
  return { width: size, height: size, data };
}

/** `colors` (same size) blended over `image` wherever it is not black (concept maps). */
export function blendColors(image: RgbImage, colors: RgbImage, alpha = 0.55): RgbImage {
  const data = new Uint8Array(image.data);
  for (let p = 0; p < data.length / 3; p++) {
    const at = p * 3;
    if (colors.data[at] + colors.data[at + 1] + colors.data[at + 2] === 0) continue;
    blendPixel(data, image.data, p, colors.data, at, alpha);
  }
  return { width: image.width, height: image.height, data };
}
