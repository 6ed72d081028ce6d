/**
 * The CPU backend's convolutions, as OpenBLAS GEMMs. A convolution whose
 * kernel covers its whole input is a fully connected layer, one GEMM on the
 * tensors as they are; the others go one of two ways, chosen by how much
 * work each wastes:
 *
 * - **Shifted GEMMs** (most convolutions): the padded input is rearranged
 *   once, space-to-depth by the stride, into `xq` [Cin * s * s, B * Hq * Wq],
 *   which turns the convolution into one with stride 1 and a ceil(K / s)
 *   square kernel. Each of its taps is then one GEMM whose input operand is
 *   `xq` itself, read from the tap's offset: outputs are computed on the
 *   whole Hq x Wq grid of every image and the valid OH x OW corner kept. The
 *   JavaScript work is one pass over the input and one over the output,
 *   where im2col writes K * K / (s * s) copies of the input.
 * - **Patch matrices** (im2col, GEMM, col2im) where the grid would be much
 *   larger than the output (a 4x4 kernel over a 4x4 map, a 1x1 input): images
 *   go in chunks whose patch matrix [Cin * KH * KW, n * OH * OW] stays a few
 *   tens of MB; with more than one image in a chunk, the [Cout, n * pixels]
 *   result is permuted to NCHW.
 *
 * @module
 */

import type { ConvGeometry, ConvSpec, DeviceBuffer } from "../backend.ts";
import type { Blas } from "./blas.ts";
import { host } from "./host.ts";
import type { LayoutName, LoopRunner } from "./threads.ts";

/** Pixels per GEMM worth batching up to, and the most floats a patch matrix may take. */
const WIDE_GEMM = 1 << 16, COL_LIMIT = 1 << 24;

/**
 * Scratch buffers reused between calls, by purpose (the backend owns one),
 * in shared memory so that loop threads can work on them.
 */
export class ConvScratch {
  readonly #buffers = new Map<"col" | "tmp" | "weights", Float32Array>();
  readonly #dropped: (array: Float32Array) => void;

  /** `dropped` hears of each buffer let go (grown out of, or trimmed). */
  constructor(dropped: (array: Float32Array) => void = () => {}) {
    this.#dropped = dropped;
  }

  /** The `purpose` buffer, grown to at least `size` elements. */
  get(purpose: "col" | "tmp" | "weights", size: number): Float32Array {
    let buffer = this.#buffers.get(purpose);
    if (!buffer || buffer.length < size) {
      if (buffer) this.#dropped(buffer);
      this.#buffers.set(purpose, buffer = new Float32Array(new SharedArrayBuffer(size * 4)));
    }
    return buffer;
  }

  /** Drops the buffers (they grow again on the next call). */
  trim(): void {
    for (const buffer of this.#buffers.values()) this.#dropped(buffer);
    this.#buffers.clear();
  }
}

/**
 * Rearranged copies of tensors that a convolution's backward pass reads
 * again: the forward's space-to-depth input (`xq`), needed by the weight
 * gradient, and an output gradient's grid, needed by both the data and the
 * weight gradient. Tensors are not written after the op that made them, so
 * a copy stays valid until its source buffer is released (the backend calls
 * {@link LayoutCache.forget}); the weight gradient, the last reader, drops
 * it at once, so a batch reused in the next step (as benchmarks do) is
 * rearranged again like a new one.
 */
export class LayoutCache {
  readonly #entries = new Map<DeviceBuffer, Map<string, Float32Array>>();
  readonly #acquire: (count: number) => Float32Array;
  readonly #release: (array: Float32Array) => void;

  /** Copies live in buffers of the backend's pool, so its memory counters include them. */
  constructor(acquire: (count: number) => Float32Array, release: (array: Float32Array) => void) {
    this.#acquire = acquire;
    this.#release = release;
  }

  /** The copy of `source` under `key`, made by `fill` into `count` elements when absent. */
  get(source: DeviceBuffer, key: string, count: number, fill: (a: Float32Array) => void) {
    let copies = this.#entries.get(source);
    const known = copies?.get(key);
    if (known) return known;
    const array = this.#acquire(count);
    fill(array);
    if (!copies) this.#entries.set(source, copies = new Map());
    copies.set(key, array);
    return array;
  }

  /** Frees one copy (after its last reader). */
  drop(source: DeviceBuffer, key: string): void {
    const copies = this.#entries.get(source), array = copies?.get(key);
    if (!copies || !array) return;
    copies.delete(key);
    if (copies.size === 0) this.#entries.delete(source);
    this.#release(array);
  }

  /** Frees every copy of a source that is being released. */
  forget(source: DeviceBuffer): void {
    const copies = this.#entries.get(source);
    if (!copies) return;
    this.#entries.delete(source);
    for (const array of copies.values()) this.#release(array);
  }
}

/** Images per chunk for a patch matrix of `rows` rows and `pixels` columns per image. */
function chunkOf(g: ConvGeometry, rows: number, pixels: number): number {
  const wanted = Math.ceil(WIDE_GEMM / pixels);
  const fits = Math.max(1, Math.floor(COL_LIMIT / (rows * pixels)));
  return Math.max(1, Math.min(g.B, wanted, fits));
}

/** True when the patch matrix of one image is the image itself (1x1, stride 1, no padding). */
function isPointwise(g: ConvGeometry): boolean {
  return g.KH === 1 && g.KW === 1 && g.stride === 1 && g.pad === 0;
}

/** Output rows shorter than this are copied through a {@link PatchTable}: loops per row cost more. */
const SHORT_ROW = 8;

/**
 * For each tap and output pixel of one image (t = tap * OH * OW + pixel):
 * the input element it reads within a channel's plane (-1 in the padding),
 * and its column in the patch matrix, tap * width + pixel, for chunks of
 * `width` columns.
 */
interface PatchTable {
  source: Int32Array;
  column: Int32Array;
}

const patchTables = new Map<string, PatchTable>();

/** The (cached) table of a geometry for chunks of `n` images. */
function patchTable(g: ConvGeometry, n: number): PatchTable {
  const key = `${g.H} ${g.W} ${g.KH} ${g.KW} ${g.stride} ${g.pad} ${g.OH} ${g.OW} ${n}`;
  const known = patchTables.get(key);
  if (known) return known;
  const { H, W, KH, KW, stride: s, pad, OH, OW } = g;
  const P = OH * OW, width = n * P;
  const source = new Int32Array(KH * KW * P), column = new Int32Array(KH * KW * P);
  for (let tap = 0; tap < KH * KW; tap++) {
    const ky = Math.floor(tap / KW), kx = tap % KW;
    for (let p = 0; p < P; p++) {
      const iy = Math.floor(p / OW) * s + ky - pad, ix = (p % OW) * s + kx - pad;
      const inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
      source[tap * P + p] = inside ? iy * W + ix : -1;
      column[tap * P + p] = tap * width + p;
    }
  }
  patchTables.set(key, { source, column });
  return { source, column };
}

/**
 * col[tap row, i * P + pixel] = x[b0 + i, ci, oy * s + ky - pad, ox * s + kx - pad] (0 outside),
 * for the input channels ci in [c0, c1).
 */
function im2col(
  g: ConvGeometry,
  x: Float32Array,
  b0: number,
  n: number,
  col: Float32Array,
  c0: number,
  c1: number,
) {
  const { Cin, H, W, KH, KW, stride: s, pad, OH, OW } = g;
  const P = OH * OW, width = n * P;
  if (OW < SHORT_ROW) {
    const { source, column } = patchTable(g, n), taps = source.length;
    for (let ci = c0; ci < c1; ci++) {
      for (let i = 0; i < n; i++) {
        const plane = ((b0 + i) * Cin + ci) * H * W, at = ci * KH * KW * width + i * P;
        for (let t = 0; t < taps; t++) {
          const from = source[t];
          col[at + column[t]] = from < 0 ? 0 : x[plane + from];
        }
      }
    }
    return;
  }
  for (let ci = c0; ci < c1; ci++) {
    for (let ky = 0; ky < KH; ky++) {
      for (let kx = 0; kx < KW; kx++) {
        const row = ((ci * KH + ky) * KW + kx) * width;
        // Output columns whose input column is inside the image.
        const oxStart = Math.max(0, Math.ceil((pad - kx) / s));
        const oxEnd = Math.min(OW, Math.floor((W - 1 + pad - kx) / s) + 1);
        // Plain loops: fill() and subarray() per row cost more than the copy (measured 3x).
        for (let i = 0; i < n; i++) {
          const plane = ((b0 + i) * Cin + ci) * H * W;
          for (let oy = 0, at = row + i * P; oy < OH; oy++, at += OW) {
            const iy = oy * s + ky - pad;
            if (iy < 0 || iy >= H) {
              for (let ox = 0; ox < OW; ox++) col[at + ox] = 0;
              continue;
            }
            for (let ox = 0; ox < oxStart; ox++) col[at + ox] = 0;
            for (let ox = Math.max(oxEnd, oxStart); ox < OW; ox++) col[at + ox] = 0;
            let src = plane + iy * W + oxStart * s + kx - pad;
            for (let ox = oxStart; ox < oxEnd; ox++, src += s) col[at + ox] = x[src];
          }
        }
      }
    }
  }
}

/**
 * Whether the taps tile the input: every input position is read by exactly
 * one tap and output position (kernel = stride, the grid reaching the far
 * edge), as in a space-to-depth.
 */
function tapsTile(g: ConvGeometry): boolean {
  const { H, W, KH, KW, stride: s, pad, OH, OW } = g;
  return KH === s && KW === s && OH * s - pad >= H && OW * s - pad >= W;
}

/**
 * dx[b0 + i, ci] = the sum of col's entries that read each position, for the
 * channels ci in [c0, c1): the transpose of {@link im2col}, writing those
 * planes of images b0 .. b0 + n - 1 of dx whole. Where the taps tile the
 * input each position has one entry, copied; otherwise the planes are
 * cleared and the entries added.
 */
function col2im(
  g: ConvGeometry,
  col: Float32Array,
  b0: number,
  n: number,
  dx: Float32Array,
  c0: number,
  c1: number,
) {
  const { Cin, H, W, KH, KW, stride: s, pad, OH, OW } = g;
  const P = OH * OW, width = n * P, tiles = tapsTile(g), short = OW < SHORT_ROW;
  if (!tiles || short) {
    for (let i = 0; i < n; i++) {
      dx.fill(0, ((b0 + i) * Cin + c0) * H * W, ((b0 + i) * Cin + c1) * H * W);
    }
  }
  if (short) {
    const { source, column } = patchTable(g, n), taps = source.length;
    for (let ci = c0; ci < c1; ci++) {
      for (let i = 0; i < n; i++) {
        const plane = ((b0 + i) * Cin + ci) * H * W, at = ci * KH * KW * width + i * P;
        for (let t = 0; t < taps; t++) {
          const to = source[t];
          if (to >= 0) dx[plane + to] += col[at + column[t]];
        }
      }
    }
    return;
  }
  for (let ci = c0; ci < c1; ci++) {
    for (let ky = 0; ky < KH; ky++) {
      for (let kx = 0; kx < KW; kx++) {
        const row = ((ci * KH + ky) * KW + kx) * width;
        const oxStart = Math.max(0, Math.ceil((pad - kx) / s));
        const oxEnd = Math.min(OW, Math.floor((W - 1 + pad - kx) / s) + 1);
        for (let i = 0; i < n; i++) {
          const plane = ((b0 + i) * Cin + ci) * H * W;
          for (let oy = 0; oy < OH; oy++) {
            const iy = oy * s + ky - pad;
            if (iy < 0 || iy >= H) continue;
            const at = row + i * P + oy * OW;
            let dst = plane + iy * W + oxStart * s + kx - pad;
            if (tiles) {
              for (let ox = oxStart; ox < oxEnd; ox++, dst += s) dx[dst] = col[at + ox];
            } else for (let ox = oxStart; ox < oxEnd; ox++, dst += s) dx[dst] += col[at + ox];
          }
        }
      }
    }
  }
}

/** [C, n * P] (channel-major over a chunk) <-> NCHW images b0 .. b0 + n - 1. */
function permuteChunk(
  toImages: boolean,
  chunk: Float32Array,
  images: Float32Array,
  C: number,
  P: number,
  b0: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) {
      const a = c * n * P + i * P, b = ((b0 + i) * C + c) * P;
      if (toImages) { for (let p = 0; p < P; p++) images[b + p] = chunk[a + p]; }
      else for (let p = 0; p < P; p++) chunk[a + p] = images[b + p];
    }
  }
}

/** out[b, c, p] += bias[c] over NCHW `out` of C channels and P pixels. */
function addBias(out: Float32Array, bias: Float32Array, B: number, C: number, P: number): void {
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const v = bias[c], start = (b * C + c) * P;
      for (let p = start; p < start + P; p++) out[p] += v;
    }
  }
}

/** A matrix operand: an array and the element its first row starts at. */
interface Operand {
  array: Float32Array;
  offset: number;
}

/**
 * The patch matrix [Cin * KH * KW, m * OH * OW] of images b0 .. b0 + m - 1:
 * for a pointwise convolution of one image, the image itself.
 */
function patches(
  g: ConvGeometry,
  scratch: ConvScratch,
  runner: LoopRunner,
  x: Float32Array,
  b0: number,
  m: number,
): Operand {
  const K = g.Cin * g.KH * g.KW, P = g.OH * g.OW;
  if (isPointwise(g) && m === 1) return { array: x, offset: b0 * K * P };
  const col = scratch.get("col", K * m * P);
  rearrange(runner, "im2col", g, [x, col], [b0, m]);
  return { array: col, offset: 0 };
}

/** The output gradient [Cout, m * OH * OW] of images b0 ..: dy itself for one image. */
function gradientRows(
  g: ConvGeometry,
  scratch: ConvScratch,
  dy: Float32Array,
  b0: number,
  m: number,
): Operand {
  const P = g.OH * g.OW;
  if (m === 1) return { array: dy, offset: b0 * g.Cout * P };
  const rows = scratch.get("tmp", g.Cout * m * P);
  permuteChunk(false, rows, dy, g.Cout, P, b0, m);
  return { array: rows, offset: 0 };
}

/** Runs one convolution GEMM (see `ConvSpec`) through patch matrices. */
function runIm2col(blas: Blas, scratch: ConvScratch, runner: LoopRunner, spec: ConvSpec): void {
  const g = spec.geometry;
  const K = g.Cin * g.KH * g.KW, P = g.OH * g.OW;
  const n = chunkOf(g, K, P);
  for (let b0 = 0; b0 < g.B; b0 += n) {
    const m = Math.min(n, g.B - b0), width = m * P;
    if (spec.kind === "forward") {
      const y = host(spec.y);
      const col = patches(g, scratch, runner, host(spec.x), b0, m);
      const out = m === 1 ? y : scratch.get("tmp", g.Cout * width);
      blas.sgemm({
        transA: false,
        transB: false,
        M: g.Cout,
        N: width,
        K,
        a: host(spec.w),
        lda: K,
        b: col.array,
        bOffset: col.offset,
        ldb: width,
        c: out,
        cOffset: m === 1 ? b0 * g.Cout * P : 0,
        ldc: width,
      });
      if (m > 1) permuteChunk(true, out, y, g.Cout, P, b0, m);
    } else if (spec.kind === "data") {
      const dy = gradientRows(g, scratch, host(spec.dy), b0, m);
      const col = scratch.get("col", K * width);
      blas.sgemm({
        transA: true,
        transB: false,
        M: K,
        N: width,
        K: g.Cout,
        a: host(spec.w),
        lda: K,
        b: dy.array,
        bOffset: dy.offset,
        ldb: width,
        c: col,
        ldc: width,
      });
      rearrange(runner, "col2im", g, [col, host(spec.dx)], [b0, m]);
    } else {
      const dy = gradientRows(g, scratch, host(spec.dy), b0, m);
      const col = patches(g, scratch, runner, host(spec.x), b0, m);
      blas.sgemm({
        transA: false,
        transB: true,
        M: g.Cout,
        N: K,
        K: width,
        a: dy.array,
        aOffset: dy.offset,
        lda: width,
        b: col.array,
        bOffset: col.offset,
        ldb: width,
        beta: b0 === 0 ? 0 : 1,
        c: host(spec.dw),
        ldc: K,
      });
    }
  }
  if (spec.kind === "forward" && spec.bias) addBias(host(spec.y), host(spec.bias), g.B, g.Cout, P);
  if (spec.kind === "data" && spec.bias) {
    addBias(host(spec.dx), host(spec.bias), g.B, g.Cin, g.H * g.W);
  }
}

/** The shifted-GEMM layout of a convolution (see the module notes). */
interface ShiftPlan {
  /** Stride, and taps per side of the stride-1 kernel. */
  s: number;
  taps: number;
  /** Channels of `xq`: Cin * s * s, ordered (ci, py, px). */
  Cq: number;
  /** Grid per image, and columns in all: B * Hq * Wq. */
  Hq: number;
  Wq: number;
  cols: number;
  /** Columns each tap's GEMM computes: `cols` less the largest tap offset. */
  n: number;
  /** The space-to-depth as a convolution geometry: im2col and col2im of it give `xq`. */
  spaceToDepth: ConvGeometry;
}

/**
 * The plan, or null when the grid is over 1.5 times the output: there patch
 * matrices cost less (measured on a 4x4 output, 25 grid cells for 16: 33 ms
 * against 40 for a 128 -> 256 channel layer, forward and backward).
 */
function shiftPlan(g: ConvGeometry): ShiftPlan | null {
  const s = g.stride, taps = Math.ceil(Math.max(g.KH, g.KW) / s);
  const Hq = Math.max(Math.ceil((g.H + 2 * g.pad) / s), g.OH + taps - 1);
  const Wq = Math.max(Math.ceil((g.W + 2 * g.pad) / s), g.OW + taps - 1);
  if (Hq * Wq > 1.5 * g.OH * g.OW) return null;
  const cols = g.B * Hq * Wq;
  return {
    s,
    taps,
    Cq: g.Cin * s * s,
    Hq,
    Wq,
    cols,
    n: cols - (taps - 1) * (Wq + 1),
    spaceToDepth: { ...g, KH: s, KW: s, OH: Hq, OW: Wq },
  };
}

/**
 * Moves weights between [Cout, Cin, KH, KW] and the plan's per-tap matrices
 * [taps * taps, Cout, Cq] (0 where a tap falls outside the kernel).
 */
function tapWeights(
  g: ConvGeometry,
  p: ShiftPlan,
  w: Float32Array,
  wq: Float32Array,
  toTaps: boolean,
) {
  const { s, taps, Cq } = p;
  for (let dy = 0; dy < taps; dy++) {
    for (let dx = 0; dx < taps; dx++) {
      const t = (dy * taps + dx) * g.Cout * Cq;
      for (let co = 0; co < g.Cout; co++) {
        for (let ci = 0; ci < g.Cin; ci++) {
          for (let py = 0; py < s; py++) {
            for (let px = 0; px < s; px++) {
              const ky = s * dy + py, kx = s * dx + px;
              const q = t + co * Cq + (ci * s + py) * s + px;
              const inside = ky < g.KH && kx < g.KW;
              const k = ((co * g.Cin + ci) * g.KH + ky) * g.KW + kx;
              if (toTaps) wq[q] = inside ? w[k] : 0;
              else if (inside) w[k] = wq[q];
            }
          }
        }
      }
    }
  }
}

/**
 * NCHW [B, C, OH, OW] <-> grid [C, B * Hq * Wq] for the images b in [b0, b1)
 * (the grid's extra cells are 0 going in).
 */
function gridAndImages(
  toImages: boolean,
  g: ConvGeometry,
  C: number,
  Hq: number,
  Wq: number,
  grid: Float32Array,
  images: Float32Array,
  b0: number,
  b1: number,
): void {
  const { OH, OW, B } = g, cols = B * Hq * Wq;
  for (let b = b0; b < b1; b++) {
    for (let c = 0; c < C; c++) {
      const cell = c * cols + b * Hq * Wq;
      if (!toImages) grid.fill(0, cell, cell + Hq * Wq);
      for (let oy = 0; oy < OH; oy++) {
        const q = cell + oy * Wq, i = ((b * C + c) * OH + oy) * OW;
        if (toImages) { for (let ox = 0; ox < OW; ox++) images[i + ox] = grid[q + ox]; }
        else for (let ox = 0; ox < OW; ox++) grid[q + ox] = images[i + ox];
      }
    }
  }
}

/**
 * The rearrangements that loop threads share, by name, each over a range
 * [lo, hi) of its outermost loop: input channels for the patch matrices,
 * images for the grids. Exported for the worker threads (`loop_worker.ts`).
 */
export const LAYOUTS: Record<
  LayoutName,
  (
    g: ConvGeometry,
    arrays: readonly Float32Array[],
    numbers: readonly number[],
    lo: number,
    hi: number,
  ) => void
> = {
  im2col: (g, [x, col], [b0, n], lo, hi) => im2col(g, x, b0, n, col, lo, hi),
  col2im: (g, [col, dx], [b0, n], lo, hi) => col2im(g, col, b0, n, dx, lo, hi),
  gridToImages: (g, [grid, images], [C, Hq, Wq], lo, hi) =>
    gridAndImages(true, g, C, Hq, Wq, grid, images, lo, hi),
  imagesToGrid: (g, [grid, images], [C, Hq, Wq], lo, hi) =>
    gridAndImages(false, g, C, Hq, Wq, grid, images, lo, hi),
};

/** Runs a rearrangement whole, its range shared by `runner`'s threads. */
function rearrange(
  runner: LoopRunner,
  name: LayoutName,
  g: ConvGeometry,
  arrays: Float32Array[],
  numbers: number[],
): void {
  const total = name === "im2col" || name === "col2im" ? g.Cin : g.B;
  const work = Math.max(...arrays.map((a) => a.length));
  runner.run(
    { kind: "layout", name, geometry: g, arrays, numbers },
    total,
    work,
    (lo, hi) => LAYOUTS[name](g, arrays, numbers, lo, hi),
  );
}

/** Runs one convolution GEMM (see `ConvSpec`) as shifted GEMMs over `xq`. */
function runShifted(
  blas: Blas,
  scratch: ConvScratch,
  runner: LoopRunner,
  layouts: LayoutCache,
  spec: ConvSpec,
  p: ShiftPlan,
): void {
  const g = spec.geometry;
  const { Cq, cols, n, taps, Wq } = p;
  const wq = scratch.get("weights", taps * taps * g.Cout * Cq);
  const offsets = Array.from(
    { length: taps * taps },
    (_, t) => Math.floor(t / taps) * Wq + t % taps,
  );
  const key = JSON.stringify(g);
  const inputCopy = (x: DeviceBuffer) =>
    layouts.get(
      x,
      `xq ${key}`,
      Cq * cols,
      (xq) => rearrange(runner, "im2col", p.spaceToDepth, [host(x), xq], [0, g.B]),
    );
  const gridCopy = (dy: DeviceBuffer) =>
    layouts.get(
      dy,
      `grid ${key}`,
      g.Cout * cols,
      (grid) => rearrange(runner, "imagesToGrid", g, [grid, host(dy)], [g.Cout, p.Hq, Wq]),
    );
  if (spec.kind !== "weight") tapWeights(g, p, host(spec.w), wq, true);
  if (spec.kind === "forward") {
    const xq = inputCopy(spec.x), grid = scratch.get("tmp", g.Cout * cols);
    offsets.forEach((offset, t) =>
      blas.sgemm({
        transA: false,
        transB: false,
        M: g.Cout,
        N: n,
        K: Cq,
        a: wq,
        aOffset: t * g.Cout * Cq,
        lda: Cq,
        b: xq,
        bOffset: offset,
        ldb: cols,
        beta: t === 0 ? 0 : 1,
        c: grid,
        ldc: cols,
      })
    );
    rearrange(runner, "gridToImages", g, [grid, host(spec.y)], [g.Cout, p.Hq, Wq]);
    if (spec.bias) addBias(host(spec.y), host(spec.bias), g.B, g.Cout, g.OH * g.OW);
  } else if (spec.kind === "data") {
    const grid = gridCopy(spec.dy), dxq = scratch.get("col", Cq * cols);
    dxq.fill(0, 0, Cq * cols);
    offsets.forEach((offset, t) =>
      blas.sgemm({
        transA: true,
        transB: false,
        M: Cq,
        N: n,
        K: g.Cout,
        a: wq,
        aOffset: t * g.Cout * Cq,
        lda: Cq,
        b: grid,
        ldb: cols,
        beta: 1,
        c: dxq,
        cOffset: offset,
        ldc: cols,
      })
    );
    const dx = host(spec.dx);
    rearrange(runner, "col2im", p.spaceToDepth, [dxq, dx], [0, g.B]);
    if (spec.bias) addBias(dx, host(spec.bias), g.B, g.Cin, g.H * g.W);
  } else {
    const xq = inputCopy(spec.x), grid = gridCopy(spec.dy);
    offsets.forEach((offset, t) =>
      blas.sgemm({
        transA: false,
        transB: true,
        M: g.Cout,
        N: Cq,
        K: n,
        a: grid,
        lda: cols,
        b: xq,
        bOffset: offset,
        ldb: cols,
        c: wq,
        cOffset: t * g.Cout * Cq,
        ldc: Cq,
      })
    );
    tapWeights(g, p, host(spec.dw), wq, false);
    layouts.drop(spec.x, `xq ${key}`);
    layouts.drop(spec.dy, `grid ${key}`);
  }
}

/**
 * True when the kernel covers the whole unpadded input, so that the output
 * is 1x1: the convolution is a fully connected layer over each image's
 * Cin * H * W values (a discriminator's last layer, a generator's first).
 */
function isFullyConnected(g: ConvGeometry): boolean {
  return g.OH === 1 && g.OW === 1 && g.pad === 0 && g.KH === g.H && g.KW === g.W;
}

/**
 * A fully connected convolution's GEMM on the tensors as they are, each
 * image's values one row: y [B, Cout] = x [B, K] w^T, dx = dy w, dw = dy^T x.
 */
function runFullyConnected(blas: Blas, spec: ConvSpec): void {
  const g = spec.geometry, K = g.Cin * g.KH * g.KW;
  if (spec.kind === "forward") {
    blas.sgemm({
      transA: false,
      transB: true,
      M: g.B,
      N: g.Cout,
      K,
      a: host(spec.x),
      lda: K,
      b: host(spec.w),
      ldb: K,
      c: host(spec.y),
      ldc: g.Cout,
    });
    if (spec.bias) addBias(host(spec.y), host(spec.bias), g.B, g.Cout, 1);
  } else if (spec.kind === "data") {
    blas.sgemm({
      transA: false,
      transB: false,
      M: g.B,
      N: K,
      K: g.Cout,
      a: host(spec.dy),
      lda: g.Cout,
      b: host(spec.w),
      ldb: K,
      c: host(spec.dx),
      ldc: K,
    });
    if (spec.bias) addBias(host(spec.dx), host(spec.bias), g.B, g.Cin, g.H * g.W);
  } else {
    blas.sgemm({
      transA: true,
      transB: false,
      M: g.Cout,
      N: K,
      K: g.B,
      a: host(spec.dy),
      lda: g.Cout,
      b: host(spec.x),
      ldb: K,
      c: host(spec.dw),
      ldc: K,
    });
  }
}

/** Runs one convolution GEMM (see `ConvSpec`) on host arrays, the cheapest way. */
export function runConv(
  blas: Blas,
  scratch: ConvScratch,
  layouts: LayoutCache,
  spec: ConvSpec,
  runner: LoopRunner,
): void {
  if (isFullyConnected(spec.geometry)) return runFullyConnected(blas, spec);
  const plan = shiftPlan(spec.geometry);
  if (plan) runShifted(blas, scratch, runner, layouts, spec, plan);
  else runIm2col(blas, scratch, runner, spec);
}
