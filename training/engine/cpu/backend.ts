/**
 * The CPU backend: tensors in host `Float32Array`s over shared memory,
 * matrix products and convolutions through OpenBLAS (`blas.ts`,
 * multithreaded), everything else as generated JavaScript loops
 * (`loops.ts`), shared between as many threads (`threads.ts`). Work runs
 * eagerly, when it is recorded; `sync` has nothing to wait for.
 *
 * @module
 */

import {
  type Backend,
  type BackendReport,
  type ConvSpec,
  denseView,
  type DeviceBuffer,
  type GatherSpec,
  type KernelTime,
  type MapSpec,
  type MatmulSpec,
  type RandomSpec,
  type ReduceSpec,
  type Shape,
} from "../backend.ts";
import { BufferPool, type MemoryStats } from "../buffer_pool.ts";
import { EngineError } from "../errors.ts";
import { type Blas, loadBlas } from "./blas.ts";
import { ConvScratch, LayoutCache, runConv } from "./conv.ts";
import { host } from "./host.ts";
import { LoopCache, type LoopKernel, mapKernel, reduceBuffers, reduceKernel } from "./loops.ts";
import { drawRandom } from "./philox.ts";
import { type LoopRunner, LoopThreads, ONE_THREAD } from "./threads.ts";

/** Runs a gather or its transpose (see {@link GatherSpec}) on host arrays. */
function runGather(spec: GatherSpec): void {
  const { outer, source, inner } = spec.dims;
  const x = host(spec.input), y = host(spec.output), picks = spec.indices;
  if (!spec.transpose) {
    if (inner === 1) {
      // Element gathers (DiffAugment's pixel moves): no subarray per element.
      for (let o = 0; o < outer; o++) {
        const from = o * source, to = o * picks.length;
        for (let k = 0; k < picks.length; k++) y[to + k] = x[from + picks[k]];
      }
      return;
    }
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < picks.length; k++) {
        const from = (o * source + picks[k]) * inner;
        y.set(x.subarray(from, from + inner), (o * picks.length + k) * inner);
      }
    }
    return;
  }
  y.fill(0, 0, outer * source * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < picks.length; k++) {
      const from = (o * picks.length + k) * inner, to = (o * source + picks[k]) * inner;
      for (let i = 0; i < inner; i++) y[to + i] += x[from + i];
    }
  }
}

/** The CPU backend over the loaded OpenBLAS. */
export class CpuBackend implements Backend {
  readonly report: BackendReport;
  readonly #blas: Blas;
  readonly #pool: BufferPool<Float32Array>;
  readonly #loops = new LoopCache();
  readonly #scratch: ConvScratch;
  readonly #layouts: LayoutCache;
  /** Threads beside this one for the JavaScript loops, as many as OpenBLAS uses in all. */
  readonly #threads: LoopThreads | null;
  readonly #runner: LoopRunner;
  #dispatches = 0;
  #profile: Map<string, KernelTime> | null = null;

  constructor(blas: Blas) {
    this.#blas = blas;
    this.report = {
      backend: "cpu",
      description: blas.description,
      variant: "blas",
      software: true,
    };
    this.#threads = blas.threads > 1 ? new LoopThreads(blas.threads - 1) : null;
    this.#runner = this.#threads ?? ONE_THREAD;
    const forget = (array: Float32Array) => this.#threads?.forget(array);
    this.#scratch = new ConvScratch(forget);
    this.#pool = new BufferPool({
      // Shared memory, so that the loop threads can work on it.
      create: (bytes) => new Float32Array(new SharedArrayBuffer(bytes)),
      bytesOf: (buffer) => buffer.byteLength,
      destroy: forget, // the garbage collector frees it once the pool and the threads let go
      maxBytes: 2 ** 32,
      limitName: "the CPU backend's limit per tensor",
    });
    this.#layouts = new LayoutCache(
      (count) => this.#pool.acquire(count * 4),
      (array) => this.#pool.release(array),
    );
  }

  get dispatchCount(): number {
    return this.#dispatches;
  }

  /** Kernels generated so far (a steady training loop stops adding them after its first step). */
  get kernelCount(): number {
    return this.#loops.size;
  }

  allocate(count: number): DeviceBuffer {
    // The pool's smallest size class also covers empty tensors.
    return this.#pool.acquire(count * 4);
  }

  release(buffer: DeviceBuffer): void {
    this.#layouts.forget(buffer);
    this.#pool.release(host(buffer));
  }

  write(buffer: DeviceBuffer, offset: number, data: Float32Array<ArrayBuffer>): void {
    host(buffer).set(data, offset);
  }

  read(buffer: DeviceBuffer, offset: number, count: number): Promise<Float32Array<ArrayBuffer>> {
    return Promise.resolve(host(buffer).slice(offset, offset + count));
  }

  copy(src: DeviceBuffer, srcOffset: number, dst: DeviceBuffer, dstOffset: number, count: number) {
    host(dst).set(host(src).subarray(srcOffset, srcOffset + count), dstOffset);
  }

  clear(buffer: DeviceBuffer, count: number): void {
    host(buffer).fill(0, 0, count);
  }

  map(spec: MapSpec): void {
    if (spec.shape.some((d) => d === 0)) return;
    this.#launch(spec.name, () => {
      const buffers = [...spec.inputs, ...spec.outputs].map((o) => host(o.buffer));
      this.#runKernel(mapKernel(spec), buffers, spec.scalars ?? [], spec.shape);
    });
  }

  reduce(spec: ReduceSpec): void {
    this.#launch(spec.name, () => {
      const buffers = reduceBuffers(spec).map(host);
      this.#runKernel(reduceKernel(spec), buffers, spec.epilogue?.scalars ?? [], spec.shape);
    });
  }

  /** Runs a generated kernel over an iteration space of `shape`, on the loop threads. */
  #runKernel(kernel: LoopKernel, arrays: Float32Array[], scalars: readonly number[], shape: Shape) {
    const compiled = this.#loops.get(kernel.source);
    this.#runner.run(
      { kind: "kernel", source: kernel.source, arrays, scalars },
      kernel.outer,
      shape.reduce((n, d) => n * d, 1),
      (lo, hi) => compiled(arrays, scalars, lo, hi),
    );
  }

  matmul(spec: MatmulSpec): void {
    if (spec.batch * spec.M * spec.N === 0) return;
    this.#launch("matmul", () => this.#matmul(spec));
  }

  #matmul(spec: MatmulSpec): void {
    const { M, N, K } = spec;
    for (let b = 0; b < spec.batch; b++) {
      this.#blas.sgemm({
        transA: spec.transposeA,
        transB: spec.transposeB,
        M,
        N,
        K,
        a: host(spec.a),
        aOffset: spec.batchedA ? b * M * K : 0,
        lda: spec.transposeA ? M : K,
        b: host(spec.b),
        bOffset: spec.batchedB ? b * K * N : 0,
        ldb: spec.transposeB ? K : N,
        c: host(spec.c),
        cOffset: b * M * N,
        ldc: N,
      });
    }
  }

  conv(spec: ConvSpec): void {
    this.#launch(`conv_${spec.kind}`, () => {
      runConv(this.#blas, this.#scratch, this.#layouts, spec, this.#runner);
      const g = spec.geometry;
      if (spec.kind === "forward" && spec.activation) {
        this.#activate(spec.y, g.B * g.Cout * g.OH * g.OW, spec.activation);
      }
      if (spec.kind === "data" && spec.activation) {
        this.#activate(spec.dx, g.B * g.Cin * g.H * g.W, spec.activation);
      }
    });
  }

  /** Applies a convolution's activation formula to its `count` outputs, in place. */
  #activate(buffer: DeviceBuffer, count: number, activation: string): void {
    const shape = [count], view = denseView(shape);
    const kernel = mapKernel({
      name: "activation",
      shape,
      inputs: [{ buffer, view }],
      outputs: [{ buffer, view, expr: activation }],
    });
    this.#runKernel(kernel, [host(buffer), host(buffer)], [], shape);
  }

  gather(spec: GatherSpec): void {
    this.#launch(spec.transpose ? "gather_transpose" : "gather", () => runGather(spec));
  }

  random(spec: RandomSpec): void {
    if (spec.count === 0) return;
    this.#launch("random", () => drawRandom(spec));
  }

  flush(): void {}

  sync(): Promise<void> {
    return Promise.resolve();
  }

  trim(): void {
    this.#pool.trim();
    this.#scratch.trim();
  }

  startProfiling(): void {
    this.#profile = new Map();
  }

  stopProfiling(): Promise<Map<string, KernelTime>> {
    const profile = this.#profile;
    if (!profile) {
      return Promise.reject(new EngineError("stopProfiling() without startProfiling()."));
    }
    this.#profile = null;
    return Promise.resolve(profile);
  }

  /** Counts one kernel launch and runs it, timed while profiling. */
  #launch(name: string, run: () => void): void {
    this.#dispatches++;
    if (!this.#profile) return run();
    const t0 = performance.now();
    run();
    const entry = this.#profile.get(name) ?? { ms: 0, count: 0 };
    entry.ms += performance.now() - t0;
    entry.count++;
    this.#profile.set(name, entry);
  }

  memory(): MemoryStats {
    return this.#pool.stats();
  }

  resetPeak(): void {
    this.#pool.resetPeak();
  }
}

/** Opens the CPU backend; throws `BlasUnavailableError`, naming the package, without OpenBLAS. */
export function openCpuBackend(): Promise<CpuBackend> {
  return Promise.resolve().then(() => new CpuBackend(loadBlas()));
}
