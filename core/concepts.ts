/**
 * How well the target layer's filter groups behave as concepts, from the
 * maps of N generated images, on the host:
 *
 * - regions: each filter's map is divided by that filter's largest value over
 *   all N images and thresholded at `threshold` (0.2, the icCNN recipe the
 *   paper's figures follow); a group centre (per image, the mean of its
 *   members' maps) is treated the same way;
 * - consistency: the IoU between a member filter's region and the region of
 *   the centre of the group's other members on the same image (leaving the
 *   filter out, so it is not compared with itself; one-filter groups have
 *   none), averaged over images (pairs where both regions are empty are
 *   skipped), per group and over all filters;
 * - separation: the IoU between the regions of two different groups' centres
 *   on the same image, averaged over images and pairs (lower is better);
 * - purity, when the images' part masks are known: for each group the part
 *   whose mask its centre region overlaps most (IoU at image resolution) and
 *   that IoU.
 *
 * @module
 */

import { groupCentres, groupSizes } from "./partition.ts";
import { REGION_THRESHOLD, regionIou, regions } from "./regions.ts";

/** Maps of N images: `[N, M, H, W]` row-major. */
export interface TargetMaps {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** Part masks of the same N images: `[N, S, S]` part indices, S a multiple of H. */
export interface PartMasks {
  masks: Uint8Array;
  size: number;
  names: readonly string[];
}

/** A group's best-matching part. */
export interface GroupPurity {
  group: number;
  part: string;
  iou: number;
}

/** The figures of {@link conceptMetrics}. */
export interface ConceptMetrics {
  /** Mean member-to-centre IoU over all filters in groups of two or more. */
  consistency: number;
  /** Per group (null for a group of fewer than two filters). */
  groupConsistency: (number | null)[];
  /** Mean IoU between different groups' centres (lower is better). */
  separation: number;
  /** Filters per group. */
  groupSizes: number[];
  /** Per non-empty group, when part masks were given. */
  purity?: GroupPurity[];
  /** Mean of the purity IoUs. */
  meanPurity?: number;
}

/** Concept metrics of `maps` under the partition `assignment` into `groups` groups. */
export function conceptMetrics(
  maps: TargetMaps,
  assignment: ArrayLike<number>,
  groups: number,
  options: { threshold?: number; parts?: PartMasks } = {},
): ConceptMetrics {
  const [n, m, h, w] = maps.shape;
  const k = h * w;
  const threshold = options.threshold ?? REGION_THRESHOLD;
  const sizes = groupSizes(assignment, groups);
  const centres = groupCentres(maps.data, [n, m, k], assignment, groups);
  const filterRegions = regions(maps.data, n, m, k, threshold);
  const centreRegions = regions(centres, n, groups, k, threshold);

  const groupSum = new Array(groups).fill(0), groupCount = new Array(groups).fill(0);
  let filterSum = 0, filterCount = 0;
  const others = new Float32Array(n * k);
  for (let j = 0; j < m; j++) {
    const g = assignment[j], size = sizes[g];
    if (size < 2) continue;
    // The centre of the other members, per image: (size * centre - f_j) / (size - 1).
    for (let i = 0; i < n; i++) {
      const c = (i * groups + g) * k, f = (i * m + j) * k;
      for (let p = 0; p < k; p++) {
        others[i * k + p] = (size * centres[c + p] - maps.data[f + p]) / (size - 1);
      }
    }
    const otherRegions = regions(others, n, 1, k, threshold);
    let sum = 0, count = 0;
    for (let i = 0; i < n; i++) {
      const iou = regionIou(filterRegions, (i * m + j) * k, otherRegions, i * k, k);
      if (iou !== null) [sum, count] = [sum + iou, count + 1];
    }
    if (count === 0) continue;
    groupSum[g] += sum / count;
    groupCount[g]++;
    filterSum += sum / count;
    filterCount++;
  }

  const present = sizes.flatMap((s, g) => (s > 0 ? [g] : []));
  let separationSum = 0, separationCount = 0;
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < present.length; a++) {
      for (let b = a + 1; b < present.length; b++) {
        const iou = regionIou(
          centreRegions,
          (i * groups + present[a]) * k,
          centreRegions,
          (i * groups + present[b]) * k,
          k,
        );
        if (iou !== null) {
          [separationSum, separationCount] = [separationSum + iou, separationCount + 1];
        }
      }
    }
  }

  const metrics: ConceptMetrics = {
    consistency: filterCount ? filterSum / filterCount : 0,
    groupConsistency: groupSum.map((s, g) => (groupCount[g] ? s / groupCount[g] : null)),
    separation: separationCount ? separationSum / separationCount : 0,
    groupSizes: sizes,
  };
  if (options.parts) {
    metrics.purity = present.map((g) =>
      bestPart(centreRegions, g, groups, [n, h, w], options.parts!)
    );
    metrics.meanPurity = metrics.purity.reduce((a, p) => a + p.iou, 0) /
      Math.max(1, metrics.purity.length);
  }
  return metrics;
}

/**
 * The mean IoU over images between group `g`'s centre regions (at the maps'
 * resolution [n, h, w], scaled up) and each part's masks (at their own).
 */
export function partOverlaps(
  centreRegions: Uint8Array,
  g: number,
  groups: number,
  [n, h, w]: readonly [number, number, number],
  parts: PartMasks,
): number[] {
  const s = parts.size, scale = s / h;
  return parts.names.map((_, part) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let both = 0, either = 0;
      const base = (i * groups + g) * h * w;
      for (let y = 0; y < s; y++) {
        for (let x = 0; x < s; x++) {
          const region = centreRegions[base + Math.floor(y / scale) * w + Math.floor(x / scale)];
          const inPart = parts.masks[(i * s + y) * s + x] === part ? 1 : 0;
          both += region & inPart;
          either += region | inPart;
        }
      }
      sum += either ? both / either : 0;
    }
    return sum / n;
  });
}

/** The part whose masks group `g`'s centre regions overlap most, by mean IoU over images. */
function bestPart(
  centreRegions: Uint8Array,
  g: number,
  groups: number,
  shape: [number, number, number],
  parts: PartMasks,
): GroupPurity {
  const overlaps = partOverlaps(centreRegions, g, groups, shape, parts);
  let best = { group: g, part: parts.names[0], iou: -1 };
  overlaps.forEach((iou, part) => {
    if (iou > best.iou) best = { group: g, part: parts.names[part], iou };
  });
  return best;
}
