/**
 * Concept names found automatically: each group's region over N images is
 * compared with the face parts drawn from landmarks on the same images. The
 * region is where the group's centre reaches {@link REGION_THRESHOLD} of its
 * peak, as for the concept metrics, but the peak is the 99th percentile of
 * the images' own peaks ({@link NAMING_PEAK_PERCENTILE}) rather than the
 * largest value over all of them: that one grows with N and follows a single
 * image, which then shrinks every other image's region (the default's hair
 * group scored 0.129 to 0.165 on four sets of 1,000 seeds as its largest value
 * went from 9.0 to 7.2), so names would depend on which images were drawn.
 * A group takes the name of the part it overlaps most (mean IoU) when that
 * overlap reaches a threshold and the region is concentrated on the part: the
 * share of its pixels inside the part is at least `minLift` times the part's
 * share of all pixels (so a group that fires everywhere is not named after the largest
 * part). The face is the set of groups whose regions lie mostly inside it.
 *
 * @module
 */

import type { TargetMaps } from "../core/concepts.ts";
import { partOverlaps } from "../core/concepts.ts";
import { percentilePeaks } from "../core/partition.ts";
import { REGION_THRESHOLD, regions } from "../core/regions.ts";
import { FACE_INNER_PARTS, FACE_PARTS, type FacePart } from "./parts.ts";

/** What naming found for one group. */
export interface GroupNaming {
  group: number;
  /** The part it is named after, or null when no overlap reaches the threshold. */
  label: FacePart | null;
  /** The part it overlaps most, and that mean IoU. */
  bestPart: FacePart;
  score: number;
  /** The share of its region inside the best part over that part's share of the image. */
  lift: number;
  /** The share of its region's pixels that lie inside the face. */
  insideFace: number;
}

/** Options of {@link nameGroups}. */
export interface NamingOptions {
  /** The least mean IoU that names a group (default 0.15). */
  minScore?: number;
  /** The least lift (see the module) that names a group (default 1.5). */
  minLift?: number;
  /** The least share inside the face that puts a group in the face (default 0.5). */
  faceShare?: number;
  /** The percentile of the images' own peaks that a region's threshold is taken of (default 99). */
  peakPercentile?: number;
}

/** The percentile of the images' own peaks that the naming's regions are measured against. */
export const NAMING_PEAK_PERCENTILE = 99;

/** The default least mean IoU that names a group. */
export const MIN_NAMING_SCORE = 0.15;

/**
 * The regions [N, count, K] that are matched to parts, of `count` maps per image over N images:
 * where a map reaches {@link REGION_THRESHOLD} of its peak at `peakPercentile` (see the module).
 */
export function partRegions(
  data: Float32Array,
  n: number,
  count: number,
  k: number,
  peakPercentile = NAMING_PEAK_PERCENTILE,
): Uint8Array {
  const peaks = percentilePeaks(data, n, count, k, peakPercentile);
  return regions(data, n, count, k, REGION_THRESHOLD, peaks);
}

/**
 * Names C groups from their centres on N images (`[N, C, H, W]`, see
 * `groupCentres`) and the part labels [N, S, S] of the same images (indices
 * of {@link FACE_PARTS}).
 */
export function nameGroups(
  centres: TargetMaps,
  labels: Uint8Array,
  size: number,
  options: NamingOptions = {},
): { groups: GroupNaming[]; face: number[] } {
  const minScore = options.minScore ?? MIN_NAMING_SCORE;
  const minLift = options.minLift ?? 1.5, faceShare = options.faceShare ?? 0.5;
  const [n, groups, h, w] = centres.shape;
  if (labels.length !== n * size * size) {
    throw new RangeError(`labels hold ${labels.length} values, not ${n} images of ${size}^2.`);
  }
  if (size % h !== 0) throw new RangeError(`the image side ${size} is not a multiple of ${h}.`);
  const k = h * w;
  const centreRegions = partRegions(centres.data, n, groups, k, options.peakPercentile);
  const parts = { masks: labels, size, names: FACE_PARTS };
  const inFace = new Set([...FACE_INNER_PARTS].map((p) => FACE_PARTS.indexOf(p)));
  const scale = size / h;
  const partPixels = new Array(FACE_PARTS.length).fill(0);
  for (const label of labels) partPixels[label]++;
  const named = Array.from({ length: groups }, (_, g) => {
    const overlaps = partOverlaps(centreRegions, g, groups, [n, h, w], parts);
    const best = overlaps.indexOf(Math.max(...overlaps));
    let inside = 0, inBest = 0, total = 0;
    for (let i = 0; i < n; i++) {
      for (let y = 0; y < size; y++) {
        const row = (i * groups + g) * k + Math.floor(y / scale) * w;
        for (let x = 0; x < size; x++) {
          const label = labels[(i * size + y) * size + x];
          if (!centreRegions[row + Math.floor(x / scale)]) continue;
          total++;
          if (inFace.has(label)) inside++;
          if (label === best) inBest++;
        }
      }
    }
    const bestShare = partPixels[best] / labels.length;
    const lift = total > 0 && bestShare > 0 ? inBest / total / bestShare : 0;
    return {
      group: g,
      label: overlaps[best] >= minScore && lift >= minLift ? FACE_PARTS[best] : null,
      bestPart: FACE_PARTS[best],
      score: overlaps[best],
      lift,
      insideFace: total > 0 ? inside / total : 0,
    };
  });
  return {
    groups: named,
    face: named.filter((g) => g.insideFace >= faceShare).map((g) => g.group),
  };
}
