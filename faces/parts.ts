/**
 * Face parts from 68-point landmarks (the iBUG 300-W layout that face-api's
 * landmark net predicts: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47,
 * lips 48-67), as a part label per pixel. Drawn from the points alone, so
 * the boundaries are approximate; they are what locality, naming and the
 * face paste are measured on.
 *
 * - face: the jaw line closed by the brows raised by half the brow-to-eye
 *   distance above them (the forehead's lower part);
 * - eyes, nose, mouth: the landmark polygons grown by a margin; brows: their
 *   polylines thickened;
 * - chin: the face below the lower lip;
 * - face skin: the rest of the face;
 * - hair: outside the face, above the ears' level and within the face's
 *   width widened by half; background: everything else.
 *
 * @module
 */

/** Landmarks of a face (the 300-W layout). */
export const LANDMARK_COUNT = 68;
/** Values of a face's landmarks: x and y of each. */
export const LANDMARK_VALUES = 2 * LANDMARK_COUNT;

/** 68 landmarks as [x0, y0, x1, y1, ...] in pixels of an S x S image. */
export type Landmarks = Float32Array | number[];

/** Part names, indexed by label; later parts win where they overlap. */
export const FACE_PARTS = [
  "background",
  "hair",
  "face skin",
  "chin",
  "nose",
  "mouth",
  "brows",
  "eyes",
] as const;

/** One of {@link FACE_PARTS}. */
export type FacePart = typeof FACE_PARTS[number];

/** The parts that make up the face (a face swap exchanges them): all but background and hair. */
export const FACE_INNER_PARTS: ReadonlySet<FacePart> = new Set(
  FACE_PARTS.filter((part) => part !== "background" && part !== "hair"),
);

type Point = [number, number];

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, k) => from + k);

function points(landmarks: Landmarks, indices: readonly number[]): Point[] {
  return indices.map((k) => [landmarks[2 * k], landmarks[2 * k + 1]]);
}

/** Whether (x, y) lies inside the polygon (even-odd rule). */
function inside(polygon: readonly Point[], x: number, y: number): boolean {
  let result = false;
  for (let a = 0, b = polygon.length - 1; a < polygon.length; b = a++) {
    const [xa, ya] = polygon[a], [xb, yb] = polygon[b];
    if ((ya > y) !== (yb > y) && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) result = !result;
  }
  return result;
}

/** Distance from (x, y) to the segment from p to q. */
function segmentDistance([px, py]: Point, [qx, qy]: Point, x: number, y: number): number {
  const dx = qx - px, dy = qy - py, length2 = dx * dx + dy * dy;
  const t = length2 === 0 ? 0 : Math.min(Math.max(((x - px) * dx + (y - py) * dy) / length2, 0), 1);
  return Math.hypot(x - (px + t * dx), y - (py + t * dy));
}

/** Whether (x, y) lies within `margin` of the polyline (closed when `closed`). */
function near(
  line: readonly Point[],
  x: number,
  y: number,
  margin: number,
  closed: boolean,
): boolean {
  const last = closed ? line.length : line.length - 1;
  for (let k = 0; k < last; k++) {
    if (segmentDistance(line[k], line[(k + 1) % line.length], x, y) <= margin) return true;
  }
  return false;
}

const mean = (ps: readonly Point[], axis: 0 | 1) => ps.reduce((s, p) => s + p[axis], 0) / ps.length;

/**
 * The part label (an index of {@link FACE_PARTS}) of each pixel of an
 * `size` x `size` image with these landmarks, row-major.
 */
export function partLabels(landmarks: Landmarks, size: number): Uint8Array {
  const jaw = points(landmarks, range(0, 16));
  const brows = [points(landmarks, range(17, 21)), points(landmarks, range(22, 26))];
  const eyes = [points(landmarks, range(36, 41)), points(landmarks, range(42, 47))];
  const nose = points(landmarks, [27, 31, 32, 33, 34, 35]);
  const bridge = points(landmarks, range(27, 30));
  const mouth = points(landmarks, range(48, 59));
  const browY = mean([...brows[0], ...brows[1]], 1), eyeY = mean([...eyes[0], ...eyes[1]], 1);
  const lift = Math.max(eyeY - browY, 1) * 0.5;
  const forehead = [...brows[1].toReversed(), ...brows[0].toReversed()].map(([x, y]): Point => [
    x,
    y - lift,
  ]);
  const face = [...jaw, ...forehead];
  const eyeWidth = Math.hypot(eyes[0][3][0] - eyes[0][0][0], eyes[0][3][1] - eyes[0][0][1]);
  const margin = Math.max(eyeWidth * 0.15, 0.5);
  const lipBottom = Math.max(...mouth.map((p) => p[1]));
  const left = Math.min(...jaw.map((p) => p[0])), right = Math.max(...jaw.map((p) => p[0]));
  const centreX = (left + right) / 2, halfWidth = ((right - left) / 2) * 1.5;
  const earY = Math.max(jaw[0][1], jaw[16][1]);
  const label = (part: FacePart) => FACE_PARTS.indexOf(part);

  const out = new Uint8Array(size * size);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const x = px + 0.5, y = py + 0.5;
      let part: FacePart = "background";
      if (inside(face, x, y)) {
        part = y > lipBottom + margin ? "chin" : "face skin";
        if (
          inside(nose, x, y) || near(nose, x, y, margin, true) || near(bridge, x, y, margin, false)
        ) {
          part = "nose";
        }
        if (inside(mouth, x, y) || near(mouth, x, y, margin, true)) part = "mouth";
        if (brows.some((b) => near(b, x, y, 2 * margin, false))) part = "brows";
        if (eyes.some((e) => inside(e, x, y) || near(e, x, y, 2 * margin, true))) part = "eyes";
      } else if (y < earY && Math.abs(x - centreX) < halfWidth) part = "hair";
      out[py * size + px] = label(part);
    }
  }
  return out;
}

/** {@link partLabels} of face `i` of `landmarks`, [n, 136] as analyzers give them. */
export function partLabelsOf(landmarks: Float32Array, i: number, size: number): Uint8Array {
  return partLabels(landmarks.subarray(i * LANDMARK_VALUES, (i + 1) * LANDMARK_VALUES), size);
}

/** A 0/1 mask of the pixels whose label is one of `parts`. */
export function partMask(labels: Uint8Array, parts: readonly FacePart[]): Float32Array {
  const wanted = new Set(parts.map((p) => FACE_PARTS.indexOf(p)));
  return Float32Array.from(labels, (l) => (wanted.has(l) ? 1 : 0));
}
