/**
 * Concept swaps on target-layer maps, in plain JavaScript so that the server
 * (`model/swap.ts`) and the studio page in a browser (`studio/`) run this
 * one copy: a swap the page computes itself equals the server's.
 *
 * Maps of one image are [M, K] (M filters, K positions), row-major.
 *
 * @module
 */

/** The region threshold, as a fraction of a map's largest value over all images. */
export const REGION_THRESHOLD = 0.2;

/**
 * Where a swap's region ends (modes "region" and "wide"), as a fraction of a
 * group's peak. Above {@link REGION_THRESHOLD}: at 0.2 a part's region takes in
 * the skin around it, and the mouth's swap changed twice as much outside the
 * mouth; at 0.3 the mouth and eye swaps are as local as the paper's and still
 * carry most of the part (docs/RESULTS.md, fifteenth sitting).
 */
export const SWAP_REGION_THRESHOLD = 0.3;

/**
 * How far (in positions of the square maps) a "region" swap reaches past the
 * target's own part where the source's part extends further: the source's
 * part is drawn there and no further, so that a longer chin is not painted
 * below the target's jaw. At 1 the mouth, nose and chin swaps changed 5-21%
 * less outside their parts and carried 0.4-7% less of them than with the
 * source's whole part (docs/RESULTS.md, twenty-second sitting).
 */
export const SOURCE_REACH = 1;

/**
 * How far from the piece around a group's strongest position (in positions
 * of the square maps, along each axis) another piece of its region still
 * counts as its part in a swap. On the default, an eye group's two eyes lie
 * 5-7 positions apart, while the mouth group's rare strays at the picture's
 * edge lie 11-15 away; a "wide" face swap pasted such a stray, grown by its
 * margin, as a block of the source's background (docs/RESULTS.md,
 * twenty-third sitting).
 */
export const PIECE_REACH = 7;

/**
 * How far mode "wide" grows the region, in positions of the (square) maps
 * along each axis: 2 at the 32x32 target layer is 4 pixels of a 64x64 image,
 * enough to carry the contour around a face (docs/RESULTS.md, eleventh sitting).
 */
export const WIDE_MARGIN = 2;

/**
 * How a swap exchanges maps: "groups", the paper's, copies the chosen groups'
 * filters everywhere; "region" also every filter inside their region
 * ({@link swapRegion}); "wide" that region grown by {@link WIDE_MARGIN}. A
 * request without one gets {@link defaultSwapMode}'s.
 */
export const SWAP_MODES = /** @type {const} */ (["groups", "region", "wide"]);

/** @typedef {typeof SWAP_MODES[number]} SwapMode */

/**
 * The centre [K] of `channels` of one image's maps [M, K]: the mean of their
 * maps (zeros for none).
 *
 * @param {Float32Array} maps
 * @param {readonly number[]} channels
 * @param {number} k
 * @returns {Float32Array}
 */
export function channelsCentre(maps, channels, k) {
  const centre = new Float32Array(k);
  for (const channel of channels) {
    for (let p = 0; p < k; p++) centre[p] += maps[channel * k + p] / channels.length;
  }
  return centre;
}

/**
 * The owner of each of `k` positions, as concept maps colour them: the group
 * whose centre over its peak is highest there and reaches
 * {@link REGION_THRESHOLD} (a tie goes to the later group); -1 where none
 * does. Groups whose peak is not above 0 own nothing.
 *
 * @param {readonly ArrayLike<number>[]} centres each group's centre, `k` values
 * @param {ArrayLike<number>} peaks each group's peak
 * @param {number} k
 * @returns {Int32Array}
 */
export function positionOwners(centres, peaks, k) {
  const owners = new Int32Array(k).fill(-1);
  const best = new Float32Array(k).fill(REGION_THRESHOLD);
  centres.forEach((centre, g) => {
    if (peaks[g] <= 0) return;
    for (let p = 0; p < k; p++) {
      const v = centre[p] / peaks[g];
      if (v >= best[p]) [best[p], owners[p]] = [v, g];
    }
  });
  return owners;
}

/**
 * What a swap needs of a concept group: its filters and its peak (the
 * largest value of its centre over the images measured at export).
 *
 * @typedef {{ channels: readonly number[]; peak: number }} SwappedGroup
 */

/**
 * The chosen groups' region over the K positions of the maps, where a
 * group's centre reaches {@link SWAP_REGION_THRESHOLD} of its peak (the
 * pieces within {@link PIECE_REACH} of its strongest position): mode
 * "region" takes the target's, and the source's within {@link SOURCE_REACH}
 * of it; mode "wide" takes both images' whole, grown by {@link WIDE_MARGIN}
 * (a face swap carries the source's contour). Each is the union of each
 * group's own region: one centre of all groups over the largest peak would
 * lose the weaker groups. The maps must be square.
 *
 * @param {Float32Array} targetMaps
 * @param {Float32Array} sourceMaps
 * @param {readonly SwappedGroup[]} groups
 * @param {number} k
 * @param {SwapMode} [mode]
 * @returns {Uint8Array}
 */
export function swapRegion(targetMaps, sourceMaps, groups, k, mode = "region") {
  const target = groupsRegion(targetMaps, groups, k), source = groupsRegion(sourceMaps, groups, k);
  const reach = mode === "wide" ? source : grownRegion(target, SOURCE_REACH);
  const region = target.map((inside, p) => inside | (source[p] & reach[p]));
  return mode === "wide" ? grownRegion(region, WIDE_MARGIN) : region;
}

/**
 * Where any of `groups` reaches {@link SWAP_REGION_THRESHOLD} of its peak in
 * one image's maps [M, K], each group's region held to the pieces within
 * {@link PIECE_REACH} of its strongest position.
 *
 * @param {Float32Array} maps
 * @param {readonly SwappedGroup[]} groups
 * @param {number} k
 * @returns {Uint8Array}
 */
function groupsRegion(maps, groups, k) {
  const region = new Uint8Array(k);
  for (const group of groups) {
    if (group.peak <= 0) continue;
    const centre = channelsCentre(maps, group.channels, k);
    const own = new Uint8Array(k);
    let strongest = 0;
    for (let p = 0; p < k; p++) {
      if (centre[p] >= SWAP_REGION_THRESHOLD * group.peak) own[p] = 1;
      if (centre[p] > centre[strongest]) strongest = p;
    }
    if (!own[strongest]) continue;
    const part = piecesNear(own, strongest, PIECE_REACH);
    for (let p = 0; p < k; p++) region[p] |= part[p];
  }
  return region;
}

/**
 * The pieces of `region` (its 8-connected components on the square grid)
 * that come within `reach` positions of the piece holding position `start`.
 *
 * @param {Uint8Array} region
 * @param {number} start
 * @param {number} reach
 * @returns {Uint8Array}
 */
export function piecesNear(region, start, reach) {
  const side = squareSide(region.length);
  const piece = new Int32Array(region.length).fill(-1);
  let pieces = 0;
  for (let first = 0; first < region.length; first++) {
    if (!region[first] || piece[first] >= 0) continue;
    piece[first] = pieces;
    const stack = [first];
    while (stack.length > 0) {
      const p = /** @type {number} */ (stack.pop());
      const y = Math.floor(p / side), x = p % side;
      for (let yy = Math.max(0, y - 1); yy <= Math.min(side - 1, y + 1); yy++) {
        for (let xx = Math.max(0, x - 1); xx <= Math.min(side - 1, x + 1); xx++) {
          const q = yy * side + xx;
          if (region[q] && piece[q] < 0) {
            piece[q] = pieces;
            stack.push(q);
          }
        }
      }
    }
    pieces++;
  }
  const held = piece[start];
  if (held < 0) return new Uint8Array(region.length);
  const near = grownRegion(Uint8Array.from(piece, (id) => (id === held ? 1 : 0)), reach);
  const kept = new Uint8Array(pieces);
  for (let p = 0; p < region.length; p++) if (near[p] && piece[p] >= 0) kept[piece[p]] = 1;
  return region.map((inside, p) => (inside && kept[piece[p]] ? 1 : 0));
}

/**
 * A swap's mode when the request names none: the model's measured one
 * (`faces.swapMode` of its manifest), or for a face swap (exactly the face's
 * groups) its face-swap mode (`faces.faceSwapMode`) where the model has one.
 * "groups", the paper's, for a model without measurements.
 *
 * @param {{ swapMode?: SwapMode; faceSwapMode?: SwapMode } | null | undefined} faces
 * @param {readonly number[] | null | undefined} face the face's group ids
 * @param {readonly number[]} groups the swapped group ids
 * @returns {SwapMode}
 */
export function defaultSwapMode(faces, face, groups) {
  const mode = faces?.swapMode ?? "groups";
  const isFace = !!face && face.length > 0 && face.length === new Set(groups).size &&
    face.every((id) => groups.includes(id));
  return isFace ? faces?.faceSwapMode ?? mode : mode;
}

/**
 * `region` over a square grid, grown by `margin` positions along each axis
 * (every position within a (2 margin + 1)-square of one inside it).
 *
 * @param {Uint8Array} region
 * @param {number} margin
 * @returns {Uint8Array}
 */
export function grownRegion(region, margin) {
  const side = squareSide(region.length);
  const grown = new Uint8Array(region.length);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      if (!region[y * side + x]) continue;
      for (let yy = Math.max(0, y - margin); yy <= Math.min(side - 1, y + margin); yy++) {
        grown.fill(
          1,
          yy * side + Math.max(0, x - margin),
          yy * side + Math.min(side - 1, x + margin) + 1,
        );
      }
    }
  }
  return grown;
}

/**
 * The side of a square grid of `positions`.
 *
 * @param {number} positions
 * @returns {number}
 */
function squareSide(positions) {
  const side = Math.round(Math.sqrt(positions));
  if (side * side !== positions) {
    throw new RangeError(`a swap's region must be square, got ${positions} positions.`);
  }
  return side;
}

/**
 * The target's maps [M, K] after a swap of `groups` from the source's.
 * Mode "groups" (the paper's) copies the groups' filters everywhere;
 * "region" and "wide" also copy every filter inside `region`
 * ({@link swapRegion}'s for the mode, computed here when not given).
 *
 * @param {Float32Array} targetMaps
 * @param {Float32Array} sourceMaps
 * @param {readonly SwappedGroup[]} groups
 * @param {number} k
 * @param {SwapMode} [mode]
 * @param {Uint8Array} [region]
 * @returns {Float32Array}
 */
export function swapMaps(targetMaps, sourceMaps, groups, k, mode = "groups", region) {
  const swapped = new Float32Array(targetMaps);
  for (const group of groups) {
    for (const channel of group.channels) {
      swapped.set(sourceMaps.subarray(channel * k, (channel + 1) * k), channel * k);
    }
  }
  if (mode === "groups") return swapped;
  const inside = region ?? swapRegion(targetMaps, sourceMaps, groups, k, mode);
  for (let base = 0; base < swapped.length; base += k) {
    for (let p = 0; p < k; p++) if (inside[p]) swapped[base + p] = sourceMaps[base + p];
  }
  return swapped;
}
