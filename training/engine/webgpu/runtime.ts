/**
 * Records kernel dispatches and copies into command buffers and submits them
 * in batches, so JavaScript keeps recording while the device executes.
 *
 * Ordering rules it enforces:
 * - a host write (`write`) first submits what is pending, because WebGPU runs
 *   queued writes before the next submission's commands, and a recycled buffer
 *   may still be read by a pending command;
 * - uniform parameters of all dispatches of one submission live in one arena
 *   buffer, uploaded just before that submission.
 *
 * @module
 */

import type { KernelTime } from "../backend.ts";
import { GpuExecutionError } from "../errors.ts";
import type { Kernel } from "./kernel.ts";

const ARENA_BYTES = 1 << 18;
const DISPATCHES_PER_SUBMIT = 128;

/** Workgroup counts of a dispatch. */
export type Grid = [number, number, number];

/** Submits GPU work for the engine. One per device. */
export class Runtime {
  readonly #device: GPUDevice;
  readonly #alignment: number;
  readonly #arena: GPUBuffer;
  readonly #arenaData = new ArrayBuffer(ARENA_BYTES);
  #arenaCursor = 0;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #pendingDispatches = 0;
  #error: string | null = null;
  /** Dispatches recorded since creation. */
  dispatchCount = 0;
  #profiler: Profiler | null = null;

  constructor(device: GPUDevice, uniformAlignment: number) {
    this.#device = device;
    this.#alignment = Math.max(uniformAlignment, 16);
    this.#arena = device.createBuffer({
      size: ARENA_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.addEventListener("uncapturederror", (event) => {
      this.#error ??= (event as GPUUncapturedErrorEvent).error.message;
    });
  }

  #bindGroup(kernel: Kernel, buffers: GPUBuffer[]): GPUBindGroup {
    // Not cached: pooled buffers are reassigned in a different order every
    // step, so (kernel, buffers) keys were measured to almost never repeat.
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({
      binding,
      resource: { buffer },
    }));
    if (kernel.paramBytes) {
      entries.push({
        binding: buffers.length,
        resource: { buffer: this.#arena, offset: 0, size: kernel.paramBytes },
      });
    }
    return this.#device.createBindGroup({ layout: kernel.layout, entries });
  }

  #writeParams(kernel: Kernel, values: readonly number[]): number {
    const specs = kernel.spec.params ?? [];
    if (values.length !== specs.length) {
      throw new GpuExecutionError(
        `Kernel ${kernel.spec.name} takes ${specs.length} parameters, got ${values.length}.`,
      );
    }
    let offset = Math.ceil(this.#arenaCursor / this.#alignment) * this.#alignment;
    if (offset + kernel.paramBytes > ARENA_BYTES) {
      this.flush();
      offset = 0;
    }
    const view = new DataView(this.#arenaData, offset, kernel.paramBytes);
    specs.forEach((p, i) => {
      if (p.type === "f32") view.setFloat32(i * 4, values[i], true);
      else if (p.type === "u32") view.setUint32(i * 4, values[i], true);
      else view.setInt32(i * 4, values[i], true);
    });
    this.#arenaCursor = offset + kernel.paramBytes;
    return offset;
  }

  #computePass(label: string): GPUComputePassEncoder {
    this.#encoder ??= this.#device.createCommandEncoder();
    if (this.#profiler) {
      // One pass per dispatch, bracketed by timestamps.
      this.#pass?.end();
      this.#pass = this.#encoder.beginComputePass({
        timestampWrites: this.#profiler.next(label, this.#encoder),
      });
    }
    this.#pass ??= this.#encoder.beginComputePass();
    return this.#pass;
  }

  #copyEncoder(): GPUCommandEncoder {
    this.#pass?.end();
    this.#pass = null;
    return this.#encoder ??= this.#device.createCommandEncoder();
  }

  /** Records one dispatch of `kernel` over `grid` workgroups. */
  dispatch(kernel: Kernel, buffers: GPUBuffer[], grid: Grid, params: readonly number[] = []): void {
    if (grid[0] === 0 || grid[1] === 0 || grid[2] === 0) return;
    const offset = kernel.paramBytes ? this.#writeParams(kernel, params) : -1;
    const group = this.#bindGroup(kernel, buffers);
    const pass = this.#computePass(kernel.spec.name);
    pass.setPipeline(kernel.pipeline);
    if (offset >= 0) pass.setBindGroup(0, group, [offset]);
    else pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    this.dispatchCount++;
    if (++this.#pendingDispatches >= DISPATCHES_PER_SUBMIT) this.flush();
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    this.#copyEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Records zero-filling of a byte range (multiples of 4). */
  clear(buffer: GPUBuffer, offset = 0, bytes = buffer.size): void {
    this.#copyEncoder().clearBuffer(buffer, offset, bytes);
  }

  /** Writes host data into a buffer, after everything recorded so far. */
  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView<ArrayBuffer>): void {
    this.flush();
    this.#device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.#encoder) return;
    this.#pass?.end();
    this.#pass = null;
    this.#profiler?.resolve(this.#encoder);
    if (this.#arenaCursor > 0) {
      this.#device.queue.writeBuffer(this.#arena, 0, this.#arenaData, 0, this.#arenaCursor);
    }
    this.#device.queue.submit([this.#encoder.finish()]);
    this.#encoder = null;
    this.#arenaCursor = 0;
    this.#pendingDispatches = 0;
  }

  /** Waits until the device has finished all submitted work; throws what it reported. */
  async sync(): Promise<void> {
    this.flush();
    await this.#device.queue.onSubmittedWorkDone();
    this.#throwPending();
  }

  #throwPending(): void {
    if (this.#error !== null) {
      const message = this.#error;
      this.#error = null;
      throw new GpuExecutionError(`The GPU rejected a kernel: ${message}`);
    }
  }

  /**
   * Starts timing every dispatch on the device (needs the timestamp-query
   * feature); {@link Runtime.stopProfiling} returns the totals per kernel.
   */
  startProfiling(): void {
    if (!this.#device.features.has("timestamp-query")) {
      throw new GpuExecutionError(
        "This adapter has no timestamp queries; profiling is unavailable.",
      );
    }
    this.flush();
    this.#profiler = new Profiler(this.#device);
  }

  /** Stops profiling: milliseconds and dispatch counts per kernel name. */
  async stopProfiling(): Promise<Map<string, KernelTime>> {
    const profiler = this.#profiler;
    if (!profiler) throw new GpuExecutionError("stopProfiling() without startProfiling().");
    this.flush();
    this.#profiler = null;
    return await profiler.totals();
  }

  /** Copies `bytes` bytes of a buffer back to the host. */
  async read(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.#device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      this.#copyEncoder().copyBufferToBuffer(buffer, offset, staging, 0, size);
      this.flush();
      await staging.mapAsync(GPUMapMode.READ);
      this.#throwPending();
      return staging.getMappedRange().slice(0, bytes);
    } finally {
      staging.destroy();
    }
  }
}

const QUERIES_PER_SET = 4096;

/** Timestamp pairs around each dispatch, resolved at every submission. */
class Profiler {
  readonly #device: GPUDevice;
  readonly #done: { labels: string[]; readback: GPUBuffer; owned: (GPUBuffer | GPUQuerySet)[] }[] =
    [];
  #set: GPUQuerySet | null = null;
  #labels: string[] = [];

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  next(label: string, encoder: GPUCommandEncoder): GPUComputePassTimestampWrites {
    if (this.#labels.length * 2 >= QUERIES_PER_SET) this.resolve(encoder);
    this.#set ??= this.#device.createQuerySet({ type: "timestamp", count: QUERIES_PER_SET });
    const index = this.#labels.length * 2;
    this.#labels.push(label);
    return {
      querySet: this.#set,
      beginningOfPassWriteIndex: index,
      endOfPassWriteIndex: index + 1,
    };
  }

  resolve(encoder: GPUCommandEncoder): void {
    if (!this.#set || this.#labels.length === 0) return;
    const bytes = this.#labels.length * 16;
    const resolved = this.#device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const readback = this.#device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.resolveQuerySet(this.#set, 0, this.#labels.length * 2, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, readback, 0, bytes);
    this.#done.push({ labels: this.#labels, readback, owned: [resolved, this.#set] });
    this.#labels = [];
    this.#set = null; // a fresh set: the resolved one may still be in flight
  }

  async totals(): Promise<Map<string, KernelTime>> {
    const totals = new Map<string, KernelTime>();
    for (const { labels, readback, owned } of this.#done) {
      await readback.mapAsync(GPUMapMode.READ);
      const stamps = new BigUint64Array(readback.getMappedRange());
      labels.forEach((label, i) => {
        const entry = totals.get(label) ?? { ms: 0, count: 0 };
        entry.ms += Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6;
        entry.count++;
        totals.set(label, entry);
      });
      readback.destroy();
      for (const resource of owned) resource.destroy();
    }
    return totals;
  }
}
