/**
 * The WebGPU backend: tensors in GPU storage buffers, kernels generated as
 * WGSL and recorded into batched command buffers (see `runtime.ts`).
 *
 * @module
 */

import type {
  Backend,
  BackendReport,
  ConvSpec,
  DeviceBuffer,
  GatherSpec,
  KernelTime,
  MapSpec,
  MatmulSpec,
  RandomSpec,
  ReduceSpec,
} from "../backend.ts";
import { BufferPool, type MemoryStats } from "../buffer_pool.ts";
import type { WebGpu } from "./context.ts";
import { runConv } from "./conv.ts";
import { type DeviceOptions, openDevice } from "./device.ts";
import { runGather } from "./gather.ts";
import { runGemm } from "./gemm.ts";
import { KernelCache } from "./kernel.ts";
import { gpuBuffer, runMap } from "./map.ts";
import { runRandom } from "./random.ts";
import { runReduce } from "./reduce.ts";
import { Runtime } from "./runtime.ts";

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * WGSL body of a matrix loader: element (row i, col j) of batch `b` of an
 * operand of logical shape [rows, cols], stored transposed or not.
 */
function element(name: string, transposed: boolean, batched: boolean, rows: number, cols: number) {
  const stored = transposed ? `j * ${rows}u + i` : `i * ${cols}u + j`;
  const base = batched ? `b * ${rows * cols}u + ` : "";
  return `let i = ${name === "A" ? "m" : "k"}; let j = ${name === "A" ? "k" : "n"}; ` +
    `return ${name}[${base}${stored}];`;
}

/** The WebGPU backend over one open device. */
export class WebGpuBackend implements Backend {
  readonly report: BackendReport;
  /** The device and what its kernels share (for benchmarks' profiling). */
  readonly gpu: WebGpu;

  constructor(gpu: WebGpu, report: BackendReport) {
    this.gpu = gpu;
    this.report = report;
  }

  get dispatchCount(): number {
    return this.gpu.runtime.dispatchCount;
  }

  get kernelCount(): number {
    return this.gpu.kernels.size;
  }

  allocate(count: number): DeviceBuffer {
    // The pool's smallest size class also covers empty tensors.
    return this.gpu.pool.acquire(count * 4);
  }

  release(buffer: DeviceBuffer): void {
    this.gpu.pool.release(gpuBuffer(buffer));
  }

  write(buffer: DeviceBuffer, offset: number, data: Float32Array<ArrayBuffer>): void {
    if (data.length) this.gpu.runtime.write(gpuBuffer(buffer), offset * 4, data);
  }

  async read(
    buffer: DeviceBuffer,
    offset: number,
    count: number,
  ): Promise<Float32Array<ArrayBuffer>> {
    return new Float32Array(await this.gpu.runtime.read(gpuBuffer(buffer), offset * 4, count * 4));
  }

  copy(src: DeviceBuffer, srcOffset: number, dst: DeviceBuffer, dstOffset: number, count: number) {
    this.gpu.runtime.copy(gpuBuffer(src), srcOffset * 4, gpuBuffer(dst), dstOffset * 4, count * 4);
  }

  clear(buffer: DeviceBuffer, count: number): void {
    if (count > 0) this.gpu.runtime.clear(gpuBuffer(buffer), 0, count * 4);
  }

  map(spec: MapSpec): void {
    runMap(this.gpu, spec);
  }

  reduce(spec: ReduceSpec): void {
    runReduce(this.gpu, spec);
  }

  matmul(spec: MatmulSpec): void {
    const { M, N, K } = spec;
    runGemm(this.gpu, {
      name: "matmul",
      batch: spec.batch,
      M,
      N,
      K,
      loadA: element("A", spec.transposeA, spec.batchedA, M, K),
      loadB: element("B", spec.transposeB, spec.batchedB, K, N),
      storeC: `C[(b * ${M}u + m) * ${N}u + n] = v;`,
      contiguous: { a: spec.transposeA ? "m" : "k", b: spec.transposeB ? "k" : "n" },
      buffers: [
        { name: "A", buffer: gpuBuffer(spec.a), access: "read" },
        { name: "B", buffer: gpuBuffer(spec.b), access: "read" },
        { name: "C", buffer: gpuBuffer(spec.c), access: "read_write" },
      ],
    });
  }

  conv(spec: ConvSpec): void {
    runConv(this.gpu, spec);
  }

  gather(spec: GatherSpec): void {
    runGather(this.gpu, spec);
  }

  random(spec: RandomSpec): void {
    runRandom(this.gpu, spec);
  }

  flush(): void {
    this.gpu.runtime.flush();
  }

  sync(): Promise<void> {
    return this.gpu.runtime.sync();
  }

  trim(): void {
    this.gpu.runtime.flush();
    this.gpu.pool.trim();
  }

  startProfiling(): void {
    this.gpu.runtime.startProfiling();
  }

  stopProfiling(): Promise<Map<string, KernelTime>> {
    return this.gpu.runtime.stopProfiling();
  }

  memory(): MemoryStats {
    return this.gpu.pool.stats();
  }

  resetPeak(): void {
    this.gpu.pool.resetPeak();
  }
}

/** Opens the WebGPU device (see `device.ts` for the options and environment). */
export async function openWebGpuBackend(options: DeviceOptions = {}): Promise<WebGpuBackend> {
  const open = await openDevice(options);
  const device = open.device;
  const pool = new BufferPool<GPUBuffer>({
    create: (size) => device.createBuffer({ size, usage: USAGE }),
    bytesOf: (buffer) => buffer.size,
    destroy: (buffer) => buffer.destroy(),
    maxBytes: open.report.maxStorageBufferBytes,
    limitName: "this adapter's storage buffer limit",
  });
  const gpu: WebGpu = {
    device,
    variant: open.report.variant,
    pool,
    kernels: new KernelCache(device),
    runtime: new Runtime(device, open.uniformAlignment),
  };
  return new WebGpuBackend(gpu, {
    backend: "webgpu",
    description: open.report.description,
    variant: open.report.variant,
    software: open.report.software,
  });
}
