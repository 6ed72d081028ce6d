/**
 * Gather along one axis, and its transpose, with the index list as data.
 *
 * The tensor is seen as `[outer, source, inner]` around the gathered axis.
 * Index lists are host data uploaded to a temporary u32 storage buffer, and
 * sizes are uniform parameters, so one compiled kernel serves every shape and
 * every index list.
 *
 * The transpose (the gradient of a gather) sums, for each source position,
 * the output positions that read it, listed on the host in CSR form: each
 * element is written by exactly one invocation, in a fixed order, so results
 * are deterministic without atomics.
 *
 * @module
 */

import type { GatherSpec } from "../backend.ts";
import type { WebGpu } from "./context.ts";
import { gpuBuffer } from "./map.ts";
import {
  elementsPerInvocation,
  GRID_STRIDE_WORKGROUP,
  gridStrideGroups,
  gridStrideMain,
  type KernelSpec,
  type Param,
} from "./kernel.ts";

/** Sizes are uniforms: one compiled kernel serves every shape and index list. */
const PARAMS: Param[] = [
  { name: "count", type: "u32" },
  { name: "inner", type: "u32" },
  { name: "picked", type: "u32" },
  { name: "source", type: "u32" },
];

const GATHER_SPEC: KernelSpec = {
  name: "gather",
  bindings: [
    { name: "X", access: "read" },
    { name: "Picks", access: "read", type: "u32" },
    { name: "Y", access: "read_write" },
  ],
  params: PARAMS,
  workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1],
  body: gridStrideMain(
    "P.count",
    `
    let inner = i % P.inner;
    let row = i / P.inner;
    let pick = row % P.picked;
    let outer = row / P.picked;
    Y[i] = X[(outer * P.source + Picks[pick]) * P.inner + inner];`,
  ),
};

// Readers holds the CSR inverse of the index list: Readers[s]..Readers[s + 1]
// delimit, after the source + 1 offsets, the output positions reading source s.
const GATHER_TRANSPOSE_SPEC: KernelSpec = {
  name: "gather_transpose",
  bindings: [
    { name: "G", access: "read" },
    { name: "Readers", access: "read", type: "u32" },
    { name: "Y", access: "read_write" },
  ],
  params: PARAMS,
  workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1],
  body: gridStrideMain(
    "P.count",
    `
    let inner = i % P.inner;
    let row = i / P.inner;
    let source = row % P.source;
    let base = (row / P.source) * P.picked;
    var acc = 0.0;
    for (var r = Readers[source]; r < Readers[source + 1u]; r++) {
      acc += G[(base + Readers[lists + r]) * P.inner + inner];
    }
    Y[i] = acc;`,
    `
  let lists = P.source + 1u;`,
  ),
};

/**
 * For each source position, the positions of `indices` that hold it, as CSR:
 * `source + 1` offsets followed by the positions, in increasing order.
 */
function readersOf(indices: Uint32Array, source: number): Uint32Array<ArrayBuffer> {
  const csr = new Uint32Array(source + 1 + indices.length);
  for (const s of indices) csr[s + 1]++;
  for (let s = 0; s < source; s++) csr[s + 1] += csr[s];
  const next = csr.slice(0, source);
  for (let p = 0; p < indices.length; p++) csr[source + 1 + next[indices[p]]++] = p;
  return csr;
}

/** Records `spec` over `params[0]` elements, with `table` in a temporary u32 buffer. */
function dispatchWithTable(
  engine: WebGpu,
  spec: KernelSpec,
  input: GPUBuffer,
  table: Uint32Array<ArrayBuffer>,
  output: GPUBuffer,
  params: readonly number[],
): void {
  const buffer = engine.pool.acquire(table.byteLength);
  engine.runtime.write(buffer, 0, table);
  engine.runtime.dispatch(
    engine.kernels.get(spec),
    [input, buffer, output],
    gridStrideGroups(params[0], elementsPerInvocation(engine.variant)),
    params,
  );
  // Safe to recycle at once: later writes to it are ordered after this dispatch.
  engine.pool.release(buffer);
}

/** Records a gather or its transpose (see {@link GatherSpec}). */
export function runGather(engine: WebGpu, spec: GatherSpec): void {
  const { dims, indices } = spec;
  const count = dims.outer * (spec.transpose ? dims.source : indices.length) * dims.inner;
  if (count === 0) return;
  dispatchWithTable(
    engine,
    spec.transpose ? GATHER_TRANSPOSE_SPEC : GATHER_SPEC,
    gpuBuffer(spec.input),
    spec.transpose ? readersOf(indices, dims.source) : indices,
    gpuBuffer(spec.output),
    [count, dims.inner, indices.length, dims.source],
  );
}
