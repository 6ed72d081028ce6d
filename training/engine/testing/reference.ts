/**
 * Float64 host references of the basic ops (broadcast element-wise math,
 * sums, matrix products) for tests.
 *
 * @module
 */

import { contiguousStrides } from "../backend.ts";
import type { HostTensor } from "./harness.ts";

/** Broadcast shape (numpy rules; assumes compatible shapes). */
export function broadcastShape(...shapes: number[][]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return Array.from(
    { length: rank },
    (_, j) => Math.max(...shapes.map((s) => s[j - (rank - s.length)] ?? 1)),
  );
}

/** Flat index into `shape` of the element at output coordinates `coord` (broadcasting). */
function broadcastIndex(coord: number[], shape: number[]): number {
  const lead = coord.length - shape.length;
  const strides = contiguousStrides(shape);
  let idx = 0;
  for (let k = 0; k < shape.length; k++) if (shape[k] !== 1) idx += coord[k + lead] * strides[k];
  return idx;
}

function coordsOf(i: number, shape: number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    c[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return c;
}

/** Element-wise f over broadcast operands. */
export function mapRef(inputs: HostTensor[], f: (...v: number[]) => number): HostTensor {
  const shape = broadcastShape(...inputs.map((x) => x.shape));
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = coordsOf(i, shape);
    data[i] = f(...inputs.map((x) => x.data[broadcastIndex(c, x.shape)]));
  }
  return { shape, data };
}

/** Sum over `axes`, optionally keeping them as size 1. */
export function sumRef(x: HostTensor, axes: number[], keepDims = false, scale = 1): HostTensor {
  const outShape = keepDims
    ? x.shape.map((d, k) => (axes.includes(k) ? 1 : d))
    : x.shape.filter((_, k) => !axes.includes(k));
  const keptShape = x.shape.map((d, k) => (axes.includes(k) ? 1 : d));
  const data = new Float64Array(outShape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.data.length; i++) {
    const c = coordsOf(i, x.shape).map((v, k) => (axes.includes(k) ? 0 : v));
    let o = 0;
    const s = contiguousStrides(keptShape);
    for (let k = 0; k < c.length; k++) o += c[k] * s[k];
    data[o] += x.data[i] * scale;
  }
  return { shape: outShape, data };
}

/** Batched matrix product with optional transposes (batch dims equal or absent on one side). */
export function matmulRef(
  a: HostTensor,
  b: HostTensor,
  transposeA = false,
  transposeB = false,
): HostTensor {
  const [ar, ac] = a.shape.slice(-2), [br, bc] = b.shape.slice(-2);
  const M = transposeA ? ac : ar, K = transposeA ? ar : ac, N = transposeB ? br : bc;
  const batchShape = a.shape.length >= b.shape.length ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
  const batch = batchShape.reduce((x, y) => x * y, 1);
  const aBatch = a.shape.length > 2 ? M * K : 0, bBatch = b.shape.length > 2 ? K * N : 0;
  const data = new Float64Array(batch * M * N);
  for (let t = 0; t < batch; t++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a.data[t * aBatch + (transposeA ? k * M + m : m * K + k)];
          const bv = b.data[t * bBatch + (transposeB ? n * K + k : k * N + n)];
          s += av * bv;
        }
        data[(t * M + m) * N + n] = s;
      }
    }
  }
  return { shape: [...batchShape, M, N], data };
}
