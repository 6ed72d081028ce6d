/**
 * Regions of target-layer maps, the icCNN recipe the paper's figures follow:
 * a map's region is where it reaches {@link REGION_THRESHOLD} of its largest
 * value over all the images measured. Concept metrics compare regions by IoU,
 * concept maps and the server's masks draw them.
 *
 * @module
 */

import { channelPeaks } from "./partition.ts";
import { REGION_THRESHOLD } from "./swap_maps.js";

export { REGION_THRESHOLD };

/**
 * Binary regions of `count` maps per image: value >= threshold x the map's peak, by default its
 * largest value over all images (`peaks` gives others, e.g. `percentilePeaks`'s).
 */
export function regions(
  data: Float32Array,
  n: number,
  count: number,
  k: number,
  threshold: number,
  peaks: Float32Array = channelPeaks(data, n, count, k),
): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < count; j++) {
      const base = (i * count + j) * k;
      const cut = threshold * peaks[j];
      if (peaks[j] <= 0) continue; // a dead filter has no region
      for (let p = 0; p < k; p++) out[base + p] = data[base + p] >= cut ? 1 : 0;
    }
  }
  return out;
}

/** IoU of two regions of `k` positions, or null when both are empty. */
export function regionIou(
  a: Uint8Array,
  aStart: number,
  b: Uint8Array,
  bStart: number,
  k: number,
): number | null {
  let both = 0, either = 0;
  for (let p = 0; p < k; p++) {
    const x = a[aStart + p], y = b[bStart + p];
    both += x & y;
    either += x | y;
  }
  return either === 0 ? null : both / either;
}
