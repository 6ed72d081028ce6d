/**
 * Implicit GEMM: C[b, m, n] = sum_k A[b, m, k] * B[b, k, n], where the
 * operands are read through WGSL loader functions and the result written by a
 * WGSL store function. Matrix products and every convolution (forward, data
 * gradient, weight gradient, transposed) are this kernel with other loaders.
 *
 * Two variants:
 * - `cpu`: for CPU-like adapters (llvmpipe). Each invocation accumulates an
 *   R x W block in registers; no workgroup memory, no barriers (barriers
 *   switch coroutines on llvmpipe, and its loads are per-lane gathers, so
 *   reuse from registers is what pays).
 * - `gpu`: workgroup tiling through shared memory with a 4 x 4 register block
 *   per thread, as real GPUs want.
 *
 * Loaders receive in-range indices (m < M, k < K, n < N); padding and other
 * zeros are the loader's business. When there are too few output tiles to
 * keep the device busy, K is split and a second pass adds the partial sums
 * and calls the store function.
 *
 * @module
 */

import type { WebGpu } from "./context.ts";
import {
  GRID_STRIDE_WORKGROUP,
  gridStrideGroups,
  gridStrideMain,
  type KernelSpec,
  type StorageBinding,
} from "./kernel.ts";

/** An extra buffer a loader or store function uses. */
export interface GemmExtra {
  name: string;
  buffer: GPUBuffer;
  access: "read" | "read_write";
}

/** A GEMM problem. */
export interface GemmSpec {
  name: string;
  batch: number;
  M: number;
  N: number;
  K: number;
  /** Body of `fn loadA(b: u32, m: u32, k: u32) -> f32`. */
  loadA: string;
  /** Body of `fn loadB(b: u32, k: u32, n: u32) -> f32`. */
  loadB: string;
  /** Body of `fn storeC(b: u32, m: u32, n: u32, v: f32)`. */
  storeC: string;
  /** Buffers the functions use, bound under their names. */
  buffers: GemmExtra[];
  /**
   * Which index of A (`m` or `k`) and of B (`k` or `n`) walks memory
   * contiguously, so that gpu threads load neighbouring addresses.
   */
  contiguous: { a: "m" | "k"; b: "k" | "n" };
}

/**
 * The cpu variant's layout: each invocation owns `rows` x `cols` outputs, and
 * a workgroup of `laneRows` x `laneCols` invocations interleaves them (lane
 * (i, j) takes rows i, i + laneRows, ... and columns j, j + laneCols, ...).
 * Rows differ between neighbouring lanes on purpose: on llvmpipe (Mesa 25.0)
 * a storage load inside a loop whose address is the same for all lanes was
 * measured ~9x slower than one whose address varies per lane.
 */
export interface CpuTile {
  rows: number;
  cols: number;
  laneRows: number;
  laneCols: number;
  /**
   * For 2 <= M <= 4: every lane owns all M rows, lane j taking them in the
   * order j, j + 1, ... (mod M), so that neighbouring lanes still load
   * different rows of A and no row slot is wasted (the generator's RGB
   * output layer: 2x faster than 2 rows in each of 2 lane rows).
   */
  rotated: boolean;
}

const LANE_ROWS = 2, LANE_COLS = 16;

/**
 * The cpu variant's register block. Bigger blocks reuse each load more but
 * compile much longer (llvmpipe expands every load into per-lane code; Mesa
 * caches the result on disk, so each kernel compiles once per machine):
 * - 8 x 8: ~2.4 s;
 * - 16 x 16: ~15 s, ~2x faster than 8 x 8, for GEMMs with M >= 64,
 *   N >= 1024 and K >= 256;
 * - 32 x 32: ~130 s and 1.7 GB of memory, 1.35x faster than 16 x 16 on
 *   1024^3, so only for products with M and N >= 1024 (none of the GAN's
 *   convolutions; 32 x 16 saved them 3% of a step for a 4-minute compile).
 * Small M or N shrink the block so that it is not mostly empty.
 */
export function cpuTile(spec: Pick<GemmSpec, "M" | "N" | "K">): CpuTile {
  const huge = spec.M >= 1024 && spec.N >= 1024 && spec.K >= 256;
  const big = spec.M >= 64 && spec.N >= 1024 && spec.K >= 256;
  const limit = huge ? 32 : big ? 16 : 8;
  const rotated = spec.M >= 2 && spec.M <= 4;
  const laneRows = rotated ? 1 : LANE_ROWS;
  const laneCols = rotated ? LANE_ROWS * LANE_COLS : LANE_COLS;
  return {
    // Exact counts, not powers of two: N = 48 in 16 lanes takes 3 columns each, not 4.
    rows: rotated ? spec.M : Math.min(limit, Math.ceil(spec.M / laneRows)),
    cols: Math.min(limit, Math.ceil(spec.N / laneCols)),
    laneRows,
    laneCols,
    rotated,
  };
}

/** Tile of the gpu variant: BM x BN outputs, BK deep, 16 x 16 threads. */
interface GpuTile {
  bm: number;
  bn: number;
  bk: number;
  threads: number;
}

/** 128 x 128 tiles (8 x 8 per thread) for large products, 64 x 64 (4 x 4) otherwise. */
function gpuTile(spec: GemmSpec): GpuTile {
  const large = spec.M >= 128 && spec.N >= 128;
  return large ? { bm: 128, bn: 128, bk: 8, threads: 16 } : { bm: 64, bn: 64, bk: 16, threads: 16 };
}

function functions(spec: GemmSpec): string {
  return `
fn loadA(b: u32, m: u32, k: u32) -> f32 { ${spec.loadA} }
fn loadB(b: u32, k: u32, n: u32) -> f32 { ${spec.loadB} }
fn storeC(b: u32, m: u32, n: u32, v: f32) { ${spec.storeC} }`;
}

function bindings(spec: GemmSpec, partial: boolean): StorageBinding[] {
  const list: StorageBinding[] = spec.buffers.map((x) => ({ name: x.name, access: x.access }));
  if (partial) list.push({ name: "Partial", access: "read_write" });
  return list;
}

/** How an accumulated value leaves the kernel: stored, or kept as a partial sum. */
function emit(spec: GemmSpec, splits: number, v: string): string {
  return splits === 1
    ? `storeC(b, m, n, ${v});`
    : `Partial[((split * ${spec.batch}u + b) * ${spec.M}u + m) * ${spec.N}u + n] = ${v};`;
}

function cpuKernel(spec: GemmSpec, splits: number): KernelSpec {
  const { rows: R, cols: W, laneRows: LR, laneCols: LC, rotated } = cpuTile(spec);
  const kChunk = Math.ceil(spec.K / splits);
  const range = (n: number) => [...Array(n).keys()];
  const rowIdx = range(R).map((r) =>
    rotated
      ? `let m${r} = (lid.x + ${r}u) % ${spec.M}u;`
      : `let m${r} = min(mLane + ${r * LR}u, ${spec.M - 1}u);`
  );
  // Row of accumulator r, and whether it exists (rotated rows always do).
  const row = (r: number) => rotated ? `m${r}` : `mLane + ${r * LR}u`;
  const rowExists = (r: number) => rotated ? "" : `${row(r)} < ${spec.M}u && `;
  const colIdx = range(W).map((w) => `let n${w} = min(nLane + ${w * LC}u, ${spec.N - 1}u);`);
  const acc = range(R).flatMap((r) => range(W).map((w) => `var c${r}_${w} = 0.0;`));
  const loads = [
    ...range(R).map((r) => `let a${r} = loadA(b, m${r}, k);`),
    ...range(W).map((w) => `let b${w} = loadB(b, k, n${w});`),
  ];
  const fmas = range(R).flatMap((r) =>
    range(W).map((w) => `c${r}_${w} = fma(a${r}, b${w}, c${r}_${w});`)
  );
  const stores = range(R).flatMap((r) =>
    range(W).map((w) =>
      `if (${rowExists(r)}nLane + ${w * LC}u < ${spec.N}u) {
    let m = ${row(r)}; let n = nLane + ${w * LC}u; ${emit(spec, splits, `c${r}_${w}`)}
  }`
    )
  );
  const body = `${functions(spec)}
@compute @workgroup_size(${LR * LC}, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.z % ${spec.batch}u;
  let split = wg.z / ${spec.batch}u;
  let mLane = wg.y * ${R * LR}u + lid.x % ${LR}u;
  let nLane = wg.x * ${W * LC}u + lid.x / ${LR}u;
  ${rowIdx.join(" ")}
  ${colIdx.join(" ")}
  ${acc.join(" ")}
  let kEnd = min(${spec.K}u, (split + 1u) * ${kChunk}u);
  for (var k = split * ${kChunk}u; k < kEnd; k++) {
    ${loads.join("\n    ")}
    ${fmas.join("\n    ")}
  }
  ${stores.join("\n  ")}
}`;
  return {
    name: `${spec.name}_cpu`,
    bindings: bindings(spec, splits > 1),
    workgroupSize: [LR * LC, 1, 1],
    body,
  };
}

function gpuKernel(spec: GemmSpec, splits: number): KernelSpec {
  const { bm, bn, bk, threads: T } = gpuTile(spec);
  const tm = bm / T, tn = bn / T;
  const kChunk = Math.ceil(spec.K / splits / bk) * bk;
  const perThreadA = (bm * bk) / (T * T);
  const perThreadB = (bk * bn) / (T * T);
  const tileRows = [...Array(tm).keys()], tileCols = [...Array(tn).keys()];
  const body = `${functions(spec)}
// Rows padded by one so that k-major tile loads do not hit one bank.
var<workgroup> As: array<f32, ${bk * (bm + 1)}>;
var<workgroup> Bs: array<f32, ${bk * (bn + 1)}>;
@compute @workgroup_size(${T}, ${T}, 1)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.z % ${spec.batch}u;
  let split = wg.z / ${spec.batch}u;
  let m0 = wg.y * ${bm}u;
  let n0 = wg.x * ${bn}u;
  let t = lid.y * ${T}u + lid.x;
  ${tileRows.flatMap((i) => tileCols.map((j) => `var c${i}_${j} = 0.0;`)).join(" ")}
  let kBegin = split * ${kChunk}u;
  let kEnd = min(${spec.K}u, kBegin + ${kChunk}u);
  for (var k0 = kBegin; k0 < kEnd; k0 += ${bk}u) {
    for (var i = 0u; i < ${perThreadA}u; i++) {
      let e = t + i * ${T * T}u;
      ${
    spec.contiguous.a === "m"
      ? `let mi = e % ${bm}u; let ki = e / ${bm}u;`
      : `let ki = e % ${bk}u; let mi = e / ${bk}u;`
  }
      let mm = m0 + mi;
      let kk = k0 + ki;
      let v = loadA(b, min(mm, ${spec.M - 1}u), min(kk, ${spec.K - 1}u));
      As[ki * ${bm + 1}u + mi] = select(0.0, v, mm < ${spec.M}u && kk < kEnd);
    }
    for (var i = 0u; i < ${perThreadB}u; i++) {
      let e = t + i * ${T * T}u;
      ${
    spec.contiguous.b === "n"
      ? `let ni = e % ${bn}u; let ki = e / ${bn}u;`
      : `let ki = e % ${bk}u; let ni = e / ${bk}u;`
  }
      let nn = n0 + ni;
      let kk = k0 + ki;
      let v = loadB(b, min(kk, ${spec.K - 1}u), min(nn, ${spec.N - 1}u));
      Bs[ki * ${bn + 1}u + ni] = select(0.0, v, nn < ${spec.N}u && kk < kEnd);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${bk}u; kk++) {
      ${tileRows.map((i) => `let a${i} = As[kk * ${bm + 1}u + lid.y + ${i * T}u];`).join(" ")}
      ${tileCols.map((j) => `let b${j} = Bs[kk * ${bn + 1}u + lid.x + ${j * T}u];`).join(" ")}
      ${
    tileRows.flatMap((i) => tileCols.map((j) => `c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`))
      .join("\n      ")
  }
    }
    workgroupBarrier();
  }
  ${
    tileRows.flatMap((i) =>
      tileCols.map((j) =>
        `if (m0 + lid.y + ${i * T}u < ${spec.M}u && n0 + lid.x + ${j * T}u < ${spec.N}u) {
    let m = m0 + lid.y + ${i * T}u; let n = n0 + lid.x + ${j * T}u; ${
          emit(spec, splits, `c${i}_${j}`)
        }
  }`
      )
    ).join("\n  ")
  }
}`;
  return {
    name: `${spec.name}_gpu`,
    bindings: bindings(spec, splits > 1),
    workgroupSize: [T, T, 1],
    body,
  };
}

/** Adds the partial sums of a split GEMM and stores the results. */
function combineKernel(spec: GemmSpec, splits: number): KernelSpec {
  const total = spec.batch * spec.M * spec.N;
  const body = `${functions(spec)}${
    gridStrideMain(
      `${total}u`,
      `
    var v = 0.0;
    for (var s = 0u; s < ${splits}u; s++) { v += Partial[s * ${total}u + i]; }
    let n = i % ${spec.N}u;
    let m = (i / ${spec.N}u) % ${spec.M}u;
    let b = i / ${spec.M * spec.N}u;
    storeC(b, m, n, v);`,
    )
  }`;
  return {
    name: `${spec.name}_combine`,
    bindings: bindings(spec, true),
    workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1],
    body,
  };
}

/** Workgroups along n, m, and (batch x splits), and the split count. */
function plan(engine: WebGpu, spec: GemmSpec): { grid: [number, number, number]; splits: number } {
  const cpu = engine.variant === "cpu";
  const tile = cpuTile(spec), gpu = gpuTile(spec);
  const tilesN = Math.ceil(spec.N / (cpu ? tile.laneCols * tile.cols : gpu.bn));
  const tilesM = Math.ceil(spec.M / (cpu ? tile.laneRows * tile.rows : gpu.bm));
  const tiles = tilesN * tilesM * spec.batch;
  // Enough workgroups to occupy the device; each split keeps a useful K range.
  const wanted = cpu ? 16 : 512;
  const minChunk = cpu ? 64 : 128;
  const splits = Math.max(1, Math.min(Math.ceil(wanted / tiles), Math.floor(spec.K / minChunk)));
  return { grid: [tilesN, tilesM, spec.batch * splits], splits };
}

/** Records a GEMM. */
export function runGemm(engine: WebGpu, spec: GemmSpec): void {
  if (spec.batch * spec.M * spec.N === 0) return;
  if (spec.K === 0) throw new Error(`${spec.name}: K = 0 is handled by the caller`);
  const { grid, splits } = plan(engine, spec);
  const buffers = spec.buffers.map((x) => x.buffer);
  const make = engine.variant === "cpu" ? cpuKernel : gpuKernel;
  if (splits === 1) {
    engine.runtime.dispatch(engine.kernels.get(make(spec, 1)), buffers, grid);
    return;
  }
  const total = spec.batch * spec.M * spec.N;
  const partial = engine.pool.acquire(total * splits * 4);
  engine.runtime.dispatch(engine.kernels.get(make(spec, splits)), [...buffers, partial], grid);
  engine.runtime.dispatch(
    engine.kernels.get(combineKernel(spec, splits)),
    [...buffers, partial],
    gridStrideGroups(total, 4),
  );
  engine.pool.release(partial);
}
