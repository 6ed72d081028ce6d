/**
 * The swap's pictures that the server (`model/render.ts`, `model/swap.ts`)
 * and the studio page in a browser (`studio/`) both draw, in plain
 * JavaScript so that they run this one copy: generated images as bytes, the
 * heat colour scale, bilinear resizing, the difference of two images and the
 * swapped region's mask.
 *
 * Pictures are 8-bit RGB, `{ width, height, data }` with `data` of
 * `width * height * 3` bytes, row by row.
 *
 * @module
 */

/** @typedef {{ width: number; height: number; data: Uint8Array }} RgbPicture */

/**
 * Image `index` of planar images [n, 3, size, size] in [-1, 1] as an RGB
 * picture: each value v as Math.round((v + 1) * 127.5), clipped to 0..255.
 *
 * @param {ArrayLike<number>} values
 * @param {number} index
 * @param {number} size
 * @returns {RgbPicture}
 */
export function planarPicture(values, index, size) {
  const plane = size * size, data = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    const base = (index * 3 + c) * plane;
    for (let p = 0; p < plane; p++) {
      // The rounding and clipping without a call per value (a server hot path).
      const y = (values[base + p] + 1) * 127.5 + 0.5;
      data[p * 3 + c] = y >= 256 ? 255 : y > 0 ? y | 0 : 0;
    }
  }
  return { width: size, height: size, data };
}

/** Anchors of the heat colour scale, at 0, 1/3, 2/3 and 1. */
const HEAT_ANCHORS = [[0, 0, 0], [190, 30, 45], [250, 200, 40], [255, 255, 255]];

/**
 * The heat colour of `v` in [0, 1] (black, red, yellow, white).
 *
 * @param {number} v
 * @returns {[number, number, number]}
 */
export function heatColor(v) {
  const x = Math.min(Math.max(v, 0), 1) * (HEAT_ANCHORS.length - 1);
  const k = Math.min(Math.floor(x), HEAT_ANCHORS.length - 2), t = x - k;
  const [a, b] = [HEAT_ANCHORS[k], HEAT_ANCHORS[k + 1]];
  return [
    Math.round(a[0] + (b[0] - a[0]) * t),
    Math.round(a[1] + (b[1] - a[1]) * t),
    Math.round(a[2] + (b[2] - a[2]) * t),
  ];
}

/**
 * Bilinear sampling positions (half-pixel centres) of `out` pixels from `input` pixels.
 *
 * @param {number} input
 * @param {number} out
 */
function samplingAxis(input, out) {
  const lo = new Int32Array(out), hi = new Int32Array(out), t = new Float32Array(out);
  for (let k = 0; k < out; k++) {
    const x = Math.min(Math.max(((k + 0.5) * input) / out - 0.5, 0), input - 1);
    lo[k] = Math.floor(x);
    hi[k] = Math.min(lo[k] + 1, input - 1);
    t[k] = x - lo[k];
  }
  return { lo, hi, t };
}

/**
 * A `height` x `width` plane of `channels` interleaved values resized to
 * `size` x `size` (bilinear).
 *
 * @param {ArrayLike<number>} data
 * @param {number} height
 * @param {number} width
 * @param {number} channels
 * @param {number} size
 * @returns {Float32Array}
 */
export function resizePlanes(data, height, width, channels, size) {
  const ys = samplingAxis(height, size), xs = samplingAxis(width, size);
  const out = new Float32Array(size * size * channels);
  for (let y = 0; y < size; y++) {
    const r0 = ys.lo[y] * width, r1 = ys.hi[y] * width, ty = ys.t[y];
    for (let x = 0; x < size; x++) {
      const c0 = xs.lo[x], c1 = xs.hi[x], tx = xs.t[x];
      for (let c = 0; c < channels; c++) {
        const a = data[(r0 + c0) * channels + c], b = data[(r0 + c1) * channels + c];
        const d = data[(r1 + c0) * channels + c], e = data[(r1 + c1) * channels + c];
        const top = a + (b - a) * tx, bottom = d + (e - d) * tx;
        out[(y * size + x) * channels + c] = top + (bottom - top) * ty;
      }
    }
  }
  return out;
}

/**
 * The per-pixel squared RGB difference of two images of one size as a heat
 * map (as in the paper's Fig. 5), scaled so that the largest difference is white.
 *
 * @param {RgbPicture} a
 * @param {RgbPicture} b
 * @returns {RgbPicture}
 */
export function differenceMap(a, b) {
  const pixels = a.width * a.height;
  const squared = new Float32Array(pixels);
  let max = 0;
  for (let p = 0; p < pixels; p++) {
    let sum = 0;
    for (let c = 0; c < 3; c++) sum += (a.data[p * 3 + c] - b.data[p * 3 + c]) ** 2;
    squared[p] = sum;
    if (sum > max) max = sum;
  }
  const data = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) data.set(heatColor(max > 0 ? squared[p] / max : 0), p * 3);
  return { width: a.width, height: a.height, data };
}

/**
 * Pixel `p` of the RGB bytes `base` with the colour at `rgb[at..at+3]` laid
 * over it at opacity `alpha`, written into `out`: the one blend of the
 * pictures drawn here (maps, concept overlays, swap masks).
 *
 * @param {Uint8Array} out
 * @param {Uint8Array} base
 * @param {number} p
 * @param {ArrayLike<number>} rgb
 * @param {number} at
 * @param {number} alpha
 */
export function blendPixel(out, base, p, rgb, at, alpha) {
  for (let c = 0; c < 3; c++) {
    out[p * 3 + c] = Math.round(base[p * 3 + c] * (1 - alpha) + rgb[at + c] * alpha);
  }
}

/**
 * `image` with the positions where `mask` (values in [0, 1], same size) is set tinted in `color`.
 *
 * @param {RgbPicture} image
 * @param {ArrayLike<number>} mask
 * @param {readonly [number, number, number]} [color]
 * @returns {RgbPicture}
 */
export function tintMask(image, mask, color = [255, 0, 0]) {
  const data = new Uint8Array(image.data.length);
  for (let p = 0; p < mask.length; p++) {
    blendPixel(data, image.data, p, color, 0, 0.6 * Math.min(Math.max(mask[p], 0), 1));
  }
  return { width: image.width, height: image.height, data };
}

/**
 * A swap's region (0 or 1 at each of the target layer's `height` x `width`
 * positions) on the square `target` picture: scaled bilinearly to its size,
 * set where it reaches one half, tinted red.
 *
 * @param {RgbPicture} target
 * @param {ArrayLike<number>} region
 * @param {number} height
 * @param {number} width
 * @returns {RgbPicture}
 */
export function regionMask(target, region, height, width) {
  const smooth = resizePlanes(region, height, width, 1, target.width);
  return tintMask(target, smooth.map((v) => (v >= 0.5 ? 1 : 0)));
}
