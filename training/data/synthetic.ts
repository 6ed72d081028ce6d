/**
 * Synthetic cartoon faces with a part label per pixel: the ground truth for
 * testing whether target-layer filter groups draw face parts, and the data
 * tests train on. Each face draws its background, hair, head, eyes, brows,
 * nose and mouth with random positions, sizes and colours; image `k` of a
 * seed is always the same.
 *
 * @module
 */

import { hostRandom } from "../../core/host_random.ts";
import { checkResolution, DataError, type ImageSet } from "./image_set.ts";

/** Part labels of the synthetic faces, in mask order. */
export const FACE_PARTS = ["background", "head", "hair", "eyes", "brows", "nose", "mouth"] as const;

const PART = Object.fromEntries(FACE_PARTS.map((p, k) => [p, k])) as Record<
  typeof FACE_PARTS[number],
  number
>;

type Rgb = [number, number, number];

/** An axis-aligned ellipse in unit image coordinates, with the part it paints. */
interface Shape {
  part: number;
  color: Rgb;
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  /** Only the part of the ellipse above this y is painted (hair fringe). */
  below?: number;
}

/** Options of {@link syntheticFaces}. */
export interface SyntheticOptions {
  count: number;
  resolution: number;
  seed?: number;
}

/** `count` cartoon faces at `resolution` (32 or 64) with their part masks. */
export function syntheticFaces(options: SyntheticOptions): ImageSet {
  const { count, resolution: size, seed = 0 } = options;
  checkResolution(size);
  if (!Number.isInteger(count) || count < 1) {
    throw new DataError(`the synthetic set needs a positive integer count, got ${count}.`);
  }
  const pixels = new Uint8Array(count * size * size * 3);
  const masks = new Uint8Array(count * size * size);
  for (let n = 0; n < count; n++) {
    const random = hostRandom(seed, n);
    const background = color(random, 60, 230);
    const shapes = faceShapes(random);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const [u, v] = [(x + 0.5) / size, (y + 0.5) / size];
        let part = PART.background;
        let rgb = background;
        for (const s of shapes) {
          const inside = ((u - s.cx) / s.rx) ** 2 + ((v - s.cy) / s.ry) ** 2 <= 1 &&
            (s.below === undefined || v < s.below);
          if (inside) [part, rgb] = [s.part, s.color];
        }
        const at = n * size * size + y * size + x;
        masks[at] = part;
        pixels.set(rgb, at * 3);
      }
    }
  }
  return { name: "synthetic", resolution: size, count, pixels, masks, parts: FACE_PARTS };
}

/** The shapes of one face, back to front. */
function faceShapes(random: () => number): Shape[] {
  const between = (a: number, b: number) => a + (b - a) * random();
  const cx = between(0.44, 0.56), cy = between(0.52, 0.6);
  const rx = between(0.25, 0.32), ry = between(0.3, 0.37);
  const skin = color(random, 120, 255);
  const hair = color(random, 10, 200);
  const shade = (c: Rgb, f: number): Rgb => c.map((v) => Math.round(v * f)) as Rgb;
  const eyeDx = rx * between(0.35, 0.5), eyeY = cy - ry * between(0.1, 0.25);
  const eyeR = rx * between(0.12, 0.18);
  const browY = eyeY - eyeR * between(1.6, 2.2);
  const eyes = color(random, 0, 90);
  const brows = shade(hair, 0.7);
  const shapes: Shape[] = [
    { part: PART.hair, color: hair, cx, cy: cy - ry * 0.15, rx: rx * 1.15, ry: ry * 1.0 },
    { part: PART.head, color: skin, cx, cy, rx, ry },
    {
      part: PART.hair,
      color: hair,
      cx,
      cy,
      rx,
      ry,
      below: cy - ry * between(0.5, 0.7),
    },
  ];
  for (const side of [-1, 1]) {
    shapes.push({
      part: PART.eyes,
      color: eyes,
      cx: cx + side * eyeDx,
      cy: eyeY,
      rx: eyeR,
      ry: eyeR * between(0.6, 1),
    });
    shapes.push({
      part: PART.brows,
      color: brows,
      cx: cx + side * eyeDx,
      cy: browY,
      rx: eyeR * 1.5,
      ry: eyeR * 0.45,
    });
  }
  shapes.push({
    part: PART.nose,
    color: shade(skin, 0.75),
    cx: cx + between(-0.02, 0.02),
    cy: cy + ry * between(0.08, 0.2),
    rx: rx * between(0.1, 0.16),
    ry: ry * between(0.12, 0.2),
  });
  shapes.push({
    part: PART.mouth,
    color: [between(150, 230), between(20, 80), between(40, 90)].map(Math.round) as Rgb,
    cx: cx + between(-0.02, 0.02),
    cy: cy + ry * between(0.5, 0.62),
    rx: rx * between(0.3, 0.5),
    ry: ry * between(0.07, 0.14),
  });
  return shapes;
}

function color(random: () => number, low: number, high: number): Rgb {
  return [0, 0, 0].map(() => Math.round(low + (high - low) * random())) as Rgb;
}
