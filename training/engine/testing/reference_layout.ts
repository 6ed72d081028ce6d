/**
 * Float64 host references of the layout ops (reshape, permute, slice,
 * concat, gather) for tests. Axes are non-negative here.
 *
 * @module
 */

import type { HostTensor } from "./harness.ts";
import { contiguousStrides } from "../backend.ts";

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** The same values with another shape (of the same size). */
export function reshapeRef(x: HostTensor, shape: number[]): HostTensor {
  if (product(shape) !== x.data.length) {
    throw new Error(`reshapeRef: [${shape}] does not hold ${x.data.length} values`);
  }
  return { shape: [...shape], data: x.data.slice() };
}

/** Output axis k is input axis perm[k]. */
export function permuteRef(x: HostTensor, perm: number[]): HostTensor {
  const shape = perm.map((p) => x.shape[p]);
  const inStrides = contiguousStrides(x.shape);
  const data = new Float64Array(x.data.length);
  for (let i = 0; i < data.length; i++) {
    let rest = i, source = 0;
    for (let k = shape.length - 1; k >= 0; k--) {
      source += (rest % shape[k]) * inStrides[perm[k]];
      rest = Math.floor(rest / shape[k]);
    }
    data[i] = x.data[source];
  }
  return { shape, data };
}

/** Entries at `indices` along `axis`, in that order (repeats allowed). */
export function gatherRef(x: HostTensor, axis: number, indices: number[]): HostTensor {
  const outer = product(x.shape.slice(0, axis));
  const size = x.shape[axis];
  const inner = product(x.shape.slice(axis + 1));
  const shape = x.shape.map((d, k) => (k === axis ? indices.length : d));
  const data = new Float64Array(product(shape));
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (const index of indices) {
      const base = (o * size + index) * inner;
      for (let j = 0; j < inner; j++) data[i++] = x.data[base + j];
    }
  }
  return { shape, data };
}

/** Entries start .. start + length - 1 along `axis`. */
export function sliceRef(x: HostTensor, axis: number, start: number, length: number): HostTensor {
  return gatherRef(x, axis, Array.from({ length }, (_, k) => start + k));
}

/** `xs` joined along `axis`. */
export function concatRef(xs: HostTensor[], axis: number): HostTensor {
  const outer = product(xs[0].shape.slice(0, axis));
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((a, x) => a + x.shape[axis], 0);
  const data = new Float64Array(product(shape));
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      // Each input contributes one contiguous block per outer index.
      const block = product(x.shape.slice(axis));
      data.set(x.data.subarray(o * block, (o + 1) * block), i);
      i += block;
    }
  }
  return { shape, data };
}
