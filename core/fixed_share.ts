/**
 * How much of each target filter's drawing is the same on every image: its
 * fixed share, the energy of its mean map over N images divided by its mean
 * energy, |mean_i f_i^j|^2 / mean_i |f_i^j|^2, in [0, 1]. A filter that
 * draws one pattern whatever the latent scores 1, one whose drawings do not
 * overlap from image to image 1 / N. The interpretable runs at width 64 turned
 * most of their target filters into fixed patterns at the image's left or
 * right edge (docs/RESULTS.md, thirty-sixth sitting); the trainer logs how
 * many, `eval:filters` reports each filter's share, and the trainer's
 * penalty (`training/interpretable/fixed_share.ts`) is the same measure on
 * its engine.
 *
 * @module
 */

import type { TargetMaps } from "./concepts.ts";

/**
 * A filter whose fixed share is above this draws a fixed pattern. On the
 * aligned CelebA faces a part sits at nearly the same place on every image,
 * so part filters score high too: the default's mouth, eye and nose filters
 * 0.80-0.88, the plain GANs' filters about 0.36 at the median; every filter
 * measured above 0.9 overlapped the background or the hair most.
 */
export const FIXED_SHARE_LIMIT = 0.9;

/** Keeps a filter that is off on every image at share 0 rather than 0 / 0. */
export const FIXED_SHARE_ENERGY_FLOOR = 1e-8;

/** Each filter's fixed share over the images of `maps`: [M]. */
export function fixedShares({ data, shape: [n, m, h, w] }: TargetMaps): Float64Array {
  const k = h * w;
  const shares = new Float64Array(m);
  const meanMap = new Float64Array(k);
  for (let j = 0; j < m; j++) {
    meanMap.fill(0);
    let energy = 0;
    for (let i = 0; i < n; i++) {
      const offset = (i * m + j) * k;
      for (let p = 0; p < k; p++) {
        const v = data[offset + p];
        meanMap[p] += v / n;
        energy += (v * v) / n;
      }
    }
    let fixed = 0;
    for (let p = 0; p < k; p++) fixed += meanMap[p] ** 2;
    shares[j] = fixed / (energy + FIXED_SHARE_ENERGY_FLOOR);
  }
  return shares;
}

/** How many of `shares` are over {@link FIXED_SHARE_LIMIT}. */
export function fixedFilterCount(shares: ArrayLike<number>): number {
  return Array.from(shares).filter((s) => s > FIXED_SHARE_LIMIT).length;
}
