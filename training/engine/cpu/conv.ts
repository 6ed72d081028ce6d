/**
 * The CPU backend's convolutions: im2col, OpenBLAS's GEMM, col2im.
 *
 * Images are processed in chunks of `n` at once: the patch matrix `col` is
 * [Cin * KH * KW, n * OH * OW], so each GEMM is wide enough to keep OpenBLAS
 * busy while `col` stays a few tens of MB. With more than one image in a
 * chunk, the output's [Cout, n * pixels] layout is permuted to NCHW.
 *
 * @module
 */

import type { ConvGeometry, ConvSpec } from "../backend.ts";
import type { Blas } from "./blas.ts";

/** Pixels per GEMM worth batching up to, and the most floats a patch matrix may take. */
const WIDE_GEMM = 1 << 16, COL_LIMIT = 1 << 24;

/** Scratch buffers reused between calls (the backend owns one). */
export class ConvScratch {
  #col = new Float32Array(0);
  #tmp = new Float32Array(0);

  col(size: number): Float32Array {
    if (this.#col.length < size) this.#col = new Float32Array(size);
    return this.#col;
  }

  tmp(size: number): Float32Array {
    if (this.#tmp.length < size) this.#tmp = new Float32Array(size);
    return this.#tmp;
  }

  /** Drops the buffers (they grow again on the next call). */
  trim(): void {
    this.#col = new Float32Array(0);
    this.#tmp = new Float32Array(0);
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

/** col[tap row, i * P + pixel] = x[b0 + i, ci, oy * s + ky - pad, ox * s + kx - pad] (0 outside). */
function im2col(g: ConvGeometry, x: Float32Array, b0: number, n: number, col: Float32Array) {
  const { Cin, H, W, KH, KW, stride: s, pad, OH, OW } = g;
  const P = OH * OW, width = n * P;
  for (let ci = 0; ci < Cin; ci++) {
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
            const src = plane + iy * W + kx - pad;
            for (let ox = oxStart; ox < oxEnd; ox++) col[at + ox] = x[src + ox * s];
          }
        }
      }
    }
  }
}

/** dx[b0 + i, ci, iy, ix] += col[tap row, i * P + pixel]: the transpose of {@link im2col}. */
function col2im(g: ConvGeometry, col: Float32Array, b0: number, n: number, dx: Float32Array) {
  const { Cin, H, W, KH, KW, stride: s, pad, OH, OW } = g;
  const P = OH * OW, width = n * P;
  for (let ci = 0; ci < Cin; ci++) {
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
            const dst = plane + iy * W + kx - pad;
            for (let ox = oxStart; ox < oxEnd; ox++) dx[dst + ox * s] += col[at + ox];
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

/** Runs one convolution GEMM (see `ConvSpec`) on host arrays. */
export function runConv(blas: Blas, scratch: ConvScratch, spec: ConvSpec): void {
  const g = spec.geometry;
  const K = g.Cin * g.KH * g.KW, P = g.OH * g.OW;
  const n = chunkOf(g, K, P);
  const pointwise = isPointwise(g);
  const f32 = (b: unknown) => b as Float32Array;
  if (spec.kind === "data") f32(spec.dx).fill(0, 0, g.B * g.Cin * g.H * g.W);
  for (let b0 = 0; b0 < g.B; b0 += n) {
    const m = Math.min(n, g.B - b0), width = m * P;
    if (spec.kind === "forward") {
      const x = f32(spec.x), y = f32(spec.y);
      const direct = pointwise && m === 1;
      const col = direct ? x : scratch.col(K * width);
      if (!direct) im2col(g, x, b0, m, col);
      const out = m === 1 ? y : scratch.tmp(g.Cout * width);
      blas.sgemm({
        transA: false,
        transB: false,
        M: g.Cout,
        N: width,
        K,
        a: f32(spec.w),
        lda: K,
        b: col,
        bOffset: direct ? b0 * K * P : 0,
        ldb: width,
        c: out,
        cOffset: m === 1 ? b0 * g.Cout * P : 0,
        ldc: width,
      });
      if (m > 1) permuteChunk(true, out, y, g.Cout, P, b0, m);
    } else if (spec.kind === "data") {
      const dy = f32(spec.dy);
      let dyChunk = dy, dyOffset = b0 * g.Cout * P;
      if (m > 1) {
        dyChunk = scratch.tmp(g.Cout * width);
        dyOffset = 0;
        permuteChunk(false, dyChunk, dy, g.Cout, P, b0, m);
      }
      const col = scratch.col(K * width);
      blas.sgemm({
        transA: true,
        transB: false,
        M: K,
        N: width,
        K: g.Cout,
        a: f32(spec.w),
        lda: K,
        b: dyChunk,
        bOffset: dyOffset,
        ldb: width,
        c: col,
        ldc: width,
      });
      col2im(g, col, b0, m, f32(spec.dx));
    } else {
      const x = f32(spec.x), dy = f32(spec.dy);
      let dyChunk = dy, dyOffset = b0 * g.Cout * P;
      if (m > 1) {
        dyChunk = scratch.tmp(g.Cout * width);
        dyOffset = 0;
        permuteChunk(false, dyChunk, dy, g.Cout, P, b0, m);
      }
      const direct = pointwise && m === 1;
      const col = direct ? x : scratch.col(K * width);
      if (!direct) im2col(g, x, b0, m, col);
      blas.sgemm({
        transA: false,
        transB: true,
        M: g.Cout,
        N: K,
        K: width,
        a: dyChunk,
        aOffset: dyOffset,
        lda: width,
        b: col,
        bOffset: direct ? b0 * K * P : 0,
        ldb: width,
        beta: b0 === 0 ? 0 : 1,
        c: f32(spec.dw),
        ldc: K,
      });
    }
  }
  if (spec.kind === "forward" && spec.bias) addBias(f32(spec.y), f32(spec.bias), g.B, g.Cout, P);
  if (spec.kind === "data" && spec.bias) {
    addBias(f32(spec.dx), f32(spec.bias), g.B, g.Cin, g.H * g.W);
  }
}
