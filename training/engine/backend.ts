/**
 * The contract between op definitions and the devices that run them.
 *
 * Ops (`ops/`, `optim/`, `random.ts`) define shapes, gradients and the
 * arithmetic; a backend owns memory and runs a small set of kernels: strided
 * element-wise maps (with several outputs), sum reductions, matrix products,
 * the three convolution GEMMs, gathers and random draws. A new device adds a
 * backend, not ops.
 *
 * Element-wise arithmetic is written once, in a small formula language that
 * every backend compiles (the WebGPU backend to WGSL, the CPU backend to
 * JavaScript): operands `x0`, `x1`, ... (f32), scalar parameters `s0`,
 * `s1`, ..., names bound by earlier `lets`, number literals (`2.0`), the
 * operators `+ - * /` and comparisons, and the functions `max`, `min`, `abs`,
 * `sign`, `sqrt`, `inverseSqrt`, `exp`, `log`, `tanh`, `cos`, `sin` and
 * `select(ifFalse, ifTrue, condition)`. Let names must not be `x<k>`,
 * `y<k>`, `r<k>`, `s<k>`, nor names of the backends' generated code: `i`,
 * `o`, `q`, `r`, `t`, or a letter and digits (`j0`, `b1`), or names starting
 * with `acc` or `sums`.
 *
 * @module
 */

import type { MemoryStats } from "./buffer_pool.ts";

/** A number as a formula literal (with the decimal point that WGSL's f32 literals need). */
export function formulaLiteral(value: number): string {
  const text = String(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

/** Memory owned by a backend: opaque to ops, which only pass it back. */
export type DeviceBuffer = GPUBuffer | Float32Array;

/** The backends there are. */
export type BackendKind = "cpu" | "webgpu";

/** What a backend reports about itself (for logs, benchmarks and run metadata). */
export interface BackendReport {
  backend: BackendKind;
  /** The adapter or library, e.g. "llvmpipe (LLVM 15.0.6, 512 bits)" or "OpenBLAS 0.3.21, 2 threads". */
  description: string;
  /** Kernel family: WebGPU's `cpu` or `gpu` kernels, or `blas` for the CPU backend. */
  variant: string;
  /** True when the work runs on the host's CPU (llvmpipe or the CPU backend). */
  software: boolean;
}

/** The report as a log line says it: "llvmpipe (...) (webgpu backend, cpu kernels)". */
export function describeBackend(report: BackendReport): string {
  return `${report.description} (${report.backend} backend, ${report.variant} kernels)`;
}

/** Dimensions of a tensor, outermost first. */
export type Shape = readonly number[];

/** How the elements of an iteration space map to a flat buffer. */
export interface View {
  /** Element strides, one per dimension of the iteration shape (0 = broadcast). */
  strides: readonly number[];
  /** Element offset of index (0, ..., 0). */
  offset: number;
}

/** Strides of a dense row-major tensor. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = s;
    s *= shape[k];
  }
  return strides;
}

/** The dense view of a tensor of `shape`. */
export function denseView(shape: Shape): View {
  return { strides: contiguousStrides(shape), offset: 0 };
}

/**
 * The view of a tensor of `inShape` broadcast to `outShape` (numpy rules,
 * aligned on the right).
 */
export function broadcastView(inShape: Shape, outShape: Shape): View {
  const inStrides = contiguousStrides(inShape);
  const lead = outShape.length - inShape.length;
  const strides = outShape.map((_, k) => {
    const j = k - lead;
    return j < 0 || inShape[j] === 1 ? 0 : inStrides[j];
  });
  return { strides, offset: 0 };
}

/** A buffer read or written through a view of the iteration space. */
export interface Operand {
  buffer: DeviceBuffer;
  view: View;
}

/** One output of a map: `buffer[view] = expr`. */
export interface MapOutput extends Operand {
  /** Formula of the element (see the module notes). */
  expr: string;
}

/**
 * An element-wise map over `shape`: for each index, bind the operands
 * `x<k>`, evaluate `lets` in order, then write each output's formula.
 */
export interface MapSpec {
  /** Short name for profiles and errors. */
  name: string;
  shape: Shape;
  inputs: Operand[];
  outputs: MapOutput[];
  lets?: readonly { name: string; expr: string }[];
  scalars?: readonly number[];
}

/**
 * One sum of a reduction: `buffer[offset + kept] = scale * sum over the
 * reduced axes of expr`, the output dense over the kept dimensions.
 */
export interface ReduceOutput {
  /** Where the sum is written; omitted for a sum that only the epilogue reads. */
  buffer?: DeviceBuffer;
  /** Element offset of the output in `buffer` (default 0). */
  offset?: number;
  /** Formula of one summed element over `x0`, `x1`, ...; default `x0`. */
  expr?: string;
  scale?: number;
}

/**
 * Per-output formulas evaluated once the sums are known, in the same kernel
 * (what would otherwise be a second, small map over the kept elements): they
 * read the scaled sums as `r0`, `r1`, ... (in output order), operands `y0`,
 * `y1`, ... dense over the kept dimensions, scalars `s0`, `s1`, ... and
 * earlier `lets`.
 */
export interface ReduceEpilogue {
  /** Dense over the kept dimensions, read at the output's index. */
  inputs: readonly DeviceBuffer[];
  lets?: readonly { name: string; expr: string }[];
  /** `buffer[offset + kept] = expr`. */
  outputs: readonly { buffer: DeviceBuffer; offset?: number; expr: string }[];
  scalars?: readonly number[];
}

/**
 * Sums over some axes of an iteration space: each output sums its own
 * formula of the same operands, in one pass over them, optionally followed
 * by an epilogue over the sums.
 */
export interface ReduceSpec {
  name: string;
  /** Iteration shape (the inputs' broadcast shape). */
  shape: Shape;
  /** Axes summed over, increasing. */
  axes: readonly number[];
  inputs: Operand[];
  outputs: readonly ReduceOutput[];
  epilogue?: ReduceEpilogue;
}

/**
 * C[b] = op(A[b]) @ op(B[b]) with C dense [batch, M, N]; op transposes the
 * last two dimensions when asked. An operand without `batched` is shared by
 * all batches.
 */
export interface MatmulSpec {
  batch: number;
  M: number;
  N: number;
  K: number;
  a: DeviceBuffer;
  b: DeviceBuffer;
  c: DeviceBuffer;
  /** A stored as [K, M] rather than [M, K]. */
  transposeA: boolean;
  /** B stored as [N, K] rather than [K, N]. */
  transposeB: boolean;
  batchedA: boolean;
  batchedB: boolean;
}

/** Sizes of an ordinary convolution: input [B, Cin, H, W] -> output [B, Cout, OH, OW]. */
export interface ConvGeometry {
  B: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
  OH: number;
  OW: number;
}

/**
 * One of the three GEMMs of a convolution with weight [Cout, Cin, KH, KW]:
 * - `forward`: y [B, Cout, OH, OW] from x [B, Cin, H, W] (+ bias [Cout]);
 * - `data`: dx [B, Cin, H, W] from dy [B, Cout, OH, OW] (+ bias [Cin]: a
 *   transposed convolution's forward pass), fully written;
 * - `weight`: dw from x and dy.
 *
 * The first two may apply an `activation` to what they write: a formula of
 * the value `x0` (bias included).
 */
export type ConvSpec =
  | {
    kind: "forward";
    geometry: ConvGeometry;
    x: DeviceBuffer;
    w: DeviceBuffer;
    y: DeviceBuffer;
    bias?: DeviceBuffer;
    activation?: string;
  }
  | {
    kind: "data";
    geometry: ConvGeometry;
    dy: DeviceBuffer;
    w: DeviceBuffer;
    dx: DeviceBuffer;
    bias?: DeviceBuffer;
    activation?: string;
  }
  | { kind: "weight"; geometry: ConvGeometry; dy: DeviceBuffer; x: DeviceBuffer; dw: DeviceBuffer };

/** Sizes of a gather, with the tensor seen as `[outer, source, inner]`. */
export interface GatherDims {
  /** Elements before the gathered axis (product of the leading dimensions). */
  outer: number;
  /** Size of the gathered axis in the source tensor. */
  source: number;
  /** Elements after the gathered axis (product of the trailing dimensions). */
  inner: number;
}

/**
 * `output[o, k, i] = input[o, indices[k], i]` (forward), or its transpose:
 * `output[o, s, i]` = the sum of `input[o, k, i]` over the k with
 * `indices[k] = s`, 0 where none, summed in increasing k.
 */
export interface GatherSpec {
  transpose: boolean;
  input: DeviceBuffer;
  output: DeviceBuffer;
  dims: GatherDims;
  indices: Uint32Array<ArrayBuffer>;
}

/**
 * `count` values at positions `offset ..` of a Philox4x32-10 stream (see
 * `random.ts`): uniform (`low + scale * u`, at most `limit`) or normal
 * (`mean + deviation * z`).
 */
export interface RandomSpec {
  output: DeviceBuffer;
  seed: number;
  offset: number;
  count: number;
  distribution:
    | { kind: "uniform"; low: number; scale: number; limit: number }
    | { kind: "normal"; mean: number; deviation: number };
}

/** Time and launches of one kernel name over a profiled stretch of work. */
export interface KernelTime {
  ms: number;
  count: number;
}

/** A device that runs the engine's kernels; one owner of all its memory. */
export interface Backend {
  readonly report: BackendReport;
  /** Kernel launches so far (dispatches on WebGPU, kernel calls on the CPU). */
  readonly dispatchCount: number;
  /** Kernels compiled so far (a steady training loop stops adding them after its first step). */
  readonly kernelCount: number;

  /** A buffer of at least `count` f32 elements (contents undefined). */
  allocate(count: number): DeviceBuffer;
  /** Gives a buffer back for reuse. */
  release(buffer: DeviceBuffer): void;
  /** Writes `data` at element `offset`, after all work recorded so far. */
  write(buffer: DeviceBuffer, offset: number, data: Float32Array<ArrayBuffer>): void;
  /** `count` elements from element `offset`, after all work recorded so far. */
  read(buffer: DeviceBuffer, offset: number, count: number): Promise<Float32Array<ArrayBuffer>>;
  /** Copies `count` elements. */
  copy(
    src: DeviceBuffer,
    srcOffset: number,
    dst: DeviceBuffer,
    dstOffset: number,
    count: number,
  ): void;
  /** Sets the first `count` elements to 0. */
  clear(buffer: DeviceBuffer, count: number): void;

  map(spec: MapSpec): void;
  reduce(spec: ReduceSpec): void;
  matmul(spec: MatmulSpec): void;
  conv(spec: ConvSpec): void;
  gather(spec: GatherSpec): void;
  random(spec: RandomSpec): void;

  /** Starts the work recorded so far. */
  flush(): void;
  /** Waits for all work and reports the device's errors. */
  sync(): Promise<void>;
  /** Frees the buffers kept for reuse. */
  trim(): void;
  /**
   * Starts timing every kernel (device time on WebGPU, which needs the
   * timestamp-query feature; wall time on the CPU backend, which computes as
   * it records). Throws a typed error where the device cannot.
   */
  startProfiling(): void;
  /** Stops profiling: the time and launches per kernel name since {@link Backend.startProfiling}. */
  stopProfiling(): Promise<Map<string, KernelTime>>;
  memory(): MemoryStats;
  resetPeak(): void;
}
