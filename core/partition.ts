/**
 * Host-side helpers of a filter partition (q_j for each of M filters, into C
 * groups): group sizes and members, per-image group centres, and each channel's peak
 * (the largest value, or a percentile of the images' own).
 *
 * @module
 */

import { channelsCentre } from "./swap_maps.js";
import { nearestRankIndex } from "./numbers.ts";

export { channelsCentre };

/** Filters per group. */
export function groupSizes(assignment: ArrayLike<number>, groups: number): number[] {
  const sizes = new Array(groups).fill(0);
  for (let j = 0; j < assignment.length; j++) sizes[assignment[j]]++;
  return sizes;
}

/** Each group's member filters, in filter order. */
export function groupMembers(assignment: ArrayLike<number>, groups: number): number[][] {
  const members: number[][] = Array.from({ length: groups }, () => []);
  for (let j = 0; j < assignment.length; j++) members[assignment[j]].push(j);
  return members;
}

/**
 * Per-image group centres [N, C, K] of maps [N, M, K]: the mean of each
 * group's members' maps (zero for an empty group).
 */
export function groupCentres(
  maps: Float32Array,
  [n, m, k]: readonly [number, number, number],
  assignment: ArrayLike<number>,
  groups: number,
): Float32Array {
  const members = groupMembers(assignment, groups);
  const centres = new Float32Array(n * groups * k);
  for (let i = 0; i < n; i++) {
    const image = maps.subarray(i * m * k, (i + 1) * m * k);
    for (let g = 0; g < groups; g++) {
      centres.set(channelsCentre(image, members[g], k), (i * groups + g) * k);
    }
  }
  return centres;
}

/** The largest value of each of `count` channels of `data` [N, count, K], over all images. */
export function channelPeaks(
  data: Float32Array,
  n: number,
  count: number,
  k: number,
): Float32Array {
  const peaks = new Float32Array(count);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < count; j++) {
      const base = (i * count + j) * k;
      for (let p = 0; p < k; p++) if (data[base + p] > peaks[j]) peaks[j] = data[base + p];
    }
  }
  return peaks;
}

/**
 * Each of `count` channels' typical peak over N images of `data` [N, count, K]: the `percentile`
 * (nearest rank) of the images' own largest values. At 100 it is {@link channelPeaks}; below, a
 * few outlier images cannot raise it, where the largest value over all images grows with N and
 * follows the one image that has it.
 */
export function percentilePeaks(
  data: Float32Array,
  n: number,
  count: number,
  k: number,
  percentile: number,
): Float32Array {
  if (!(percentile > 0 && percentile <= 100)) {
    throw new RangeError(`a peak's percentile must be in (0, 100], got ${percentile}.`);
  }
  const rank = nearestRankIndex(n, percentile);
  const peaks = new Float32Array(count);
  const imagePeaks = new Float32Array(n);
  for (let j = 0; j < count; j++) {
    for (let i = 0; i < n; i++) {
      const base = (i * count + j) * k;
      let peak = 0;
      for (let p = 0; p < k; p++) if (data[base + p] > peak) peak = data[base + p];
      imagePeaks[i] = peak;
    }
    if (n > 0) peaks[j] = imagePeaks.sort()[rank];
  }
  return peaks;
}
