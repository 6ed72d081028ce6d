/**
 * Concept maps as in the paper's Fig. 3: each target-layer position of an
 * image coloured by the group whose centre is strongest there (each centre
 * first divided by its largest value over all the images given), upscaled to
 * the image size; positions where no centre reaches the region threshold
 * stay black.
 *
 * @module
 */

import type { RgbImage } from "./image.ts";
import type { TargetMaps } from "./concepts.ts";
import { channelPeaks, groupCentres } from "./partition.ts";
import { positionOwners } from "./swap_maps.js";

/** A distinct colour for group `g` (golden-angle hues, alternating lightness). */
export function groupColor(g: number): [number, number, number] {
  const hue = (g * 137.508) % 360;
  const lightness = g % 2 === 0 ? 0.55 : 0.4;
  const c = (1 - Math.abs(2 * lightness - 1)) * 0.85;
  const x = c * (1 - Math.abs(((hue / 60) % 2) - 1));
  const m = lightness - c / 2;
  const [r, gr, b] = hue < 60
    ? [c, x, 0]
    : hue < 120
    ? [x, c, 0]
    : hue < 180
    ? [0, c, x]
    : hue < 240
    ? [0, x, c]
    : hue < 300
    ? [x, 0, c]
    : [c, 0, x];
  return [r, gr, b].map((v) => Math.round((v + m) * 255)) as [number, number, number];
}

/** Options of {@link conceptMaps}. */
export interface ConceptMapOptions {
  /** Draw only the first `count` images (default all). */
  count?: number;
  /**
   * Each group centre's normaliser; default its largest value over all the
   * images given (a server drawing one image passes the peaks measured at export).
   */
  peaks?: ArrayLike<number>;
  /** Each group's colour; default {@link groupColor}. */
  colors?: readonly (readonly [number, number, number])[];
}

/** Concept maps, each `size` x `size`, of the images of `maps`. */
export function conceptMaps(
  maps: TargetMaps,
  assignment: ArrayLike<number>,
  groups: number,
  size: number,
  options: ConceptMapOptions = {},
): RgbImage[] {
  const [n, m, h, w] = maps.shape;
  const k = h * w;
  const centres = groupCentres(maps.data, [n, m, k], assignment, groups);
  const max = options.peaks ?? channelPeaks(centres, n, groups, k);
  const colors = options.colors ?? Array.from({ length: groups }, (_, g) => groupColor(g));
  return Array.from({ length: Math.min(options.count ?? n, n) }, (_, i) => {
    const image = Array.from(
      { length: groups },
      (_, g) => centres.subarray((i * groups + g) * k, (i * groups + g + 1) * k),
    );
    const owners = positionOwners(image, max, k);
    const data = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const owner = owners[Math.floor((y * h) / size) * w + Math.floor((x * w) / size)];
        if (owner >= 0) data.set(colors[owner], (y * size + x) * 3);
      }
    }
    return { width: size, height: size, data };
  });
}
