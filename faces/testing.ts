/**
 * Synthetic faces for tests: 68 landmarks of a front-facing face centred in
 * a 64 x 64 image, at the places the iBUG layout puts them, and target-layer
 * maps whose filters draw known parts of such faces.
 *
 * @module
 */

import type { TargetMaps } from "../core/concepts.ts";
import { FACE_PARTS, partLabels } from "./parts.ts";

/** Landmarks [x0, y0, ...] of a face in a 64 x 64 image, shifted by (dx, dy). */
export function templateLandmarks(dx = 0, dy = 0): number[] {
  const p: [number, number][] = [];
  // Jaw 0-16: from the left ear (14, 26) down round the chin (32, 58) to the right ear.
  for (let k = 0; k <= 16; k++) {
    const angle = Math.PI * (k / 16);
    p.push([32 - 18 * Math.cos(angle), 26 + 32 * Math.sin(angle)]);
  }
  // Brows 17-21 and 22-26 at y = 22.
  for (const x0 of [17, 35]) {
    for (let k = 0; k < 5; k++) p.push([x0 + 3 * k, 22 - (k === 2 ? 1 : 0)]);
  }
  // Nose: bridge 27-30 down the middle, the base 31-35 at y = 40.
  for (let k = 0; k < 4; k++) p.push([32, 27 + 3 * k]);
  for (let k = 0; k < 5; k++) p.push([28 + 2 * k, 40 + (k === 2 ? 1 : 0)]);
  // Eyes 36-41 and 42-47 round (23, 28) and (41, 28), 8 wide and 3 high.
  for (const cx of [23, 41]) {
    for (const [ex, ey] of [[-4, 0], [-2, -1.5], [2, -1.5], [4, 0], [2, 1.5], [-2, 1.5]]) {
      p.push([cx + ex, 28 + ey]);
    }
  }
  // Outer lips 48-59 round (32, 48), 14 wide and 6 high; inner lips 60-67.
  for (let k = 0; k < 12; k++) {
    const angle = Math.PI + (2 * Math.PI * k) / 12;
    p.push([32 + 7 * Math.cos(angle), 48 + 3 * Math.sin(angle)]);
  }
  for (let k = 0; k < 8; k++) {
    const angle = Math.PI + (2 * Math.PI * k) / 8;
    p.push([32 + 4 * Math.cos(angle), 48 + 1 * Math.sin(angle)]);
  }
  return p.flatMap(([x, y]) => [x + dx, y + dy]);
}

/**
 * Synthetic faces whose parts are known: N images of 64 x 64 from the
 * template landmarks shifted about, and maps [N, 4, 16, 16] whose filters
 * fire on the mouth (filters 0, 1), the eyes (2) and everywhere a little (3).
 */
export function syntheticPartMaps(n: number): {
  maps: TargetMaps;
  labels: Uint8Array;
} {
  const size = 64, h = 16, labels = new Uint8Array(n * size * size);
  const maps = new Float32Array(n * 4 * h * h);
  for (let i = 0; i < n; i++) {
    const image = partLabels(templateLandmarks((i % 3) - 1, (i % 2) * 2 - 1), size);
    labels.set(image, i * size * size);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < h; x++) {
        // The part at the centre of this map cell.
        const part = FACE_PARTS[image[(y * 4 + 2) * size + x * 4 + 2]];
        const at = (j: number) => ((i * 4 + j) * h + y) * h + x;
        maps[at(0)] = maps[at(1)] = part === "mouth" ? 1 : 0;
        maps[at(2)] = part === "eyes" ? 1 : 0;
        maps[at(3)] = 0.5 + 0.5 * (((x * 7 + y * 3 + i) % 5) / 4);
      }
    }
  }
  return { maps: { data: maps, shape: [n, 4, h, h] }, labels };
}
