/**
 * Which face part each target-layer filter draws: the overlap measure that
 * names groups (`naming.ts`: mean IoU over images of a region with a part's
 * landmark mask, the regions measured against a percentile of the images'
 * peaks) applied to single filters. Groups are made of filters, so a part that
 * no filter overlaps more than its neighbours cannot get a group of its own by
 * regrouping; the generator would have to learn it.
 *
 * @module
 */

import { partOverlaps, type TargetMaps } from "../core/concepts.ts";
import { partRegions } from "./naming.ts";
import { FACE_PARTS, type FacePart } from "./parts.ts";

/** What one filter's regions overlap. */
export interface FilterParts {
  filter: number;
  /** The concept group it belongs to, or null when none holds it. */
  group: number | null;
  /** Mean IoU of its regions with each part's masks, in {@link FACE_PARTS}' order. */
  overlaps: number[];
  /** The part it overlaps most, and that mean IoU. */
  bestPart: FacePart;
  score: number;
}

/**
 * The part overlaps of every filter, from the maps of N images (`[N, M, H, W]`)
 * and their part labels [N, S, S] (indices of {@link FACE_PARTS}); `groupOf[m]`
 * is filter m's group (-1 for none).
 */
export function filterParts(
  maps: TargetMaps,
  labels: Uint8Array,
  size: number,
  groupOf: Int32Array,
): FilterParts[] {
  const [n, filters, h, w] = maps.shape;
  if (labels.length !== n * size * size) {
    throw new RangeError(`labels hold ${labels.length} values, not ${n} images of ${size}^2.`);
  }
  if (groupOf.length !== filters) {
    throw new RangeError(`groupOf names ${groupOf.length} filters, the maps hold ${filters}.`);
  }
  const filterRegions = partRegions(maps.data, n, filters, h * w);
  const parts = { masks: labels, size, names: FACE_PARTS };
  return Array.from({ length: filters }, (_, filter) => {
    const overlaps = partOverlaps(filterRegions, filter, filters, [n, h, w], parts);
    const best = overlaps.indexOf(Math.max(...overlaps));
    return {
      filter,
      group: groupOf[filter] >= 0 ? groupOf[filter] : null,
      overlaps,
      bestPart: FACE_PARTS[best],
      score: overlaps[best],
    };
  });
}

/** The `count` filters that overlap `part` most, most first. */
export function filtersOfPart(
  rows: readonly FilterParts[],
  part: FacePart,
  count: number,
): FilterParts[] {
  const index = FACE_PARTS.indexOf(part);
  return rows.toSorted((a, b) => b.overlaps[index] - a.overlaps[index]).slice(0, count);
}
