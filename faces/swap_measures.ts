/**
 * What a swap did, in pixels (images are planar [3, S, S], any value range):
 *
 * - locality, the paper's Table 4: In-MSE and Out-MSE of the change from the
 *   target x to the swapped x' inside and outside a part mask G on the target,
 *   and their ratio Out / In (lower is more local);
 * - transfer inside the mask, 1 - MSE_G(x', source) / MSE_G(x, source): 1 when
 *   the part became the source's, 0 when it stayed the target's, so that a
 *   swap which changes nothing cannot look local;
 * - a feathered pixel paste of the source into the target under a mask, the
 *   reference a swap is compared with.
 *
 * @module
 */

/** The figures of {@link swapLocality}. */
export interface SwapLocality {
  inMse: number;
  outMse: number;
  /** Out-MSE / In-MSE. */
  ratio: number;
  transfer: number;
}

/**
 * The mean over pixels, weighted by `weights` [S, S], of the squared RGB
 * difference of planar images a and b; NaN when the weights are all 0.
 */
export function maskedMse(a: Float32Array, b: Float32Array, weights: Float32Array): number {
  const pixels = weights.length;
  let sum = 0, total = 0;
  for (let p = 0; p < pixels; p++) {
    const w = weights[p];
    if (w === 0) continue;
    let d = 0;
    for (let c = 0; c < 3; c++) d += (a[c * pixels + p] - b[c * pixels + p]) ** 2;
    sum += w * d;
    total += w;
  }
  return total > 0 ? sum / total : Number.NaN;
}

/** 1 - mask. */
export function invertMask(mask: Float32Array): Float32Array {
  return mask.map((v) => 1 - v);
}

/** The squared errors a swap's locality and transfer come from (means over their masks). */
export interface SwapErrors {
  /** Target to swapped, inside and outside the mask. */
  inMse: number;
  outMse: number;
  /** Target to source and swapped to source, inside the mask. */
  before: number;
  after: number;
}

/** The errors of a swap of `source`'s part into `target` (mask: 0/1 per pixel). */
export function swapErrors(
  target: Float32Array,
  swapped: Float32Array,
  source: Float32Array,
  mask: Float32Array,
): SwapErrors {
  return {
    inMse: maskedMse(target, swapped, mask),
    outMse: maskedMse(target, swapped, invertMask(mask)),
    before: maskedMse(target, source, mask),
    after: maskedMse(swapped, source, mask),
  };
}

/** The mean of each of `rows`' errors (NaN for none). */
export function meanErrors(rows: readonly SwapErrors[]): SwapErrors {
  const mean = (key: keyof SwapErrors) => rows.reduce((sum, r) => sum + r[key], 0) / rows.length;
  return {
    inMse: mean("inMse"),
    outMse: mean("outMse"),
    before: mean("before"),
    after: mean("after"),
  };
}

/** Locality (Out / In) and transfer from errors (of one swap, or means over many). */
export function localityOf({ inMse, outMse, before, after }: SwapErrors): SwapLocality {
  return {
    inMse,
    outMse,
    ratio: inMse > 0 ? outMse / inMse : Number.NaN,
    transfer: before > 0 ? 1 - after / before : Number.NaN,
  };
}

/** Locality and transfer of a swap of `source`'s part into `target` (mask: 0/1 per pixel). */
export function swapLocality(
  target: Float32Array,
  swapped: Float32Array,
  source: Float32Array,
  mask: Float32Array,
): SwapLocality {
  return localityOf(swapErrors(target, swapped, source, mask));
}

/** A mask [S, S] blurred by a box of side 2 x radius + 1, twice (a soft edge). */
export function featherMask(mask: Float32Array, size: number, radius: number): Float32Array {
  let current = mask;
  for (let pass = 0; pass < 2; pass++) {
    for (const horizontal of [true, false]) {
      const out = new Float32Array(current.length);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          let sum = 0, count = 0;
          for (let k = -radius; k <= radius; k++) {
            const [xx, yy] = horizontal ? [x + k, y] : [x, y + k];
            if (xx < 0 || yy < 0 || xx >= size || yy >= size) continue;
            sum += current[yy * size + xx];
            count++;
          }
          out[y * size + x] = sum / count;
        }
      }
      current = out;
    }
  }
  return current;
}

/** `source` pasted into `target` under a soft mask [S, S] in [0, 1]. */
export function pasteImage(
  target: Float32Array,
  source: Float32Array,
  softMask: Float32Array,
): Float32Array {
  const pixels = softMask.length, out = new Float32Array(target.length);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < pixels; p++) {
      const k = c * pixels + p, w = softMask[p];
      out[k] = w * source[k] + (1 - w) * target[k];
    }
  }
  return out;
}
