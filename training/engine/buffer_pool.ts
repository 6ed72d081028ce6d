/**
 * Reuses GPU storage buffers by size class, so that a training loop that
 * allocates the same shapes every step stops creating buffers after its first
 * step, and counts what is live so tests can check that nothing leaks.
 *
 * @module
 */

import { GpuMemoryError } from "./errors.ts";

/** Counters of GPU memory held by the engine. */
export interface MemoryStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  /** Bytes of those buffers (size-class rounded). */
  liveBytes: number;
  /** Released buffers kept for reuse. */
  pooledBuffers: number;
  pooledBytes: number;
  /** Most bytes ever held at once (live + pooled). */
  peakBytes: number;
}

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const MIN_BYTES = 256;

/**
 * Rounds a request up to a size class: powers of two split in four steps, so
 * no more than a quarter of a buffer is wasted.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const power = 2 ** Math.floor(Math.log2(bytes));
  const step = power / 4;
  return Math.ceil(bytes / step) * step;
}

/** The pool. One per device; it owns every storage buffer of tensors. */
export class BufferPool {
  readonly #device: GPUDevice;
  readonly #maxBytes: number;
  readonly #free = new Map<number, GPUBuffer[]>();
  #liveBuffers = 0;
  #liveBytes = 0;
  #pooledBuffers = 0;
  #pooledBytes = 0;
  #peakBytes = 0;

  constructor(device: GPUDevice, maxBytes: number) {
    this.#device = device;
    this.#maxBytes = maxBytes;
  }

  /** A buffer of at least `bytes` bytes (contents undefined). */
  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    if (size > this.#maxBytes) {
      throw new GpuMemoryError(
        `A tensor of ${bytes} bytes exceeds this adapter's storage buffer limit of ` +
          `${this.#maxBytes} bytes; use a smaller batch or model.`,
      );
    }
    const bucket = this.#free.get(size);
    let buffer = bucket?.pop();
    if (buffer) {
      this.#pooledBuffers--;
      this.#pooledBytes -= size;
    } else {
      buffer = this.#device.createBuffer({ size, usage: USAGE });
    }
    this.#liveBuffers++;
    this.#liveBytes += size;
    this.#peakBytes = Math.max(this.#peakBytes, this.#liveBytes + this.#pooledBytes);
    return buffer;
  }

  /** Gives a buffer back for reuse. */
  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    this.#liveBuffers--;
    this.#liveBytes -= size;
    let bucket = this.#free.get(size);
    if (!bucket) this.#free.set(size, bucket = []);
    bucket.push(buffer);
    this.#pooledBuffers++;
    this.#pooledBytes += size;
  }

  /**
   * Destroys the buffers kept for reuse. Commands already recorded may still
   * use them: call the engine's `trimMemory()`, which submits those first.
   */
  trim(): void {
    for (const bucket of this.#free.values()) for (const buffer of bucket) buffer.destroy();
    this.#free.clear();
    this.#pooledBuffers = 0;
    this.#pooledBytes = 0;
  }

  /** Resets the peak to what is held now. */
  resetPeak(): void {
    this.#peakBytes = this.#liveBytes + this.#pooledBytes;
  }

  stats(): MemoryStats {
    return {
      liveBuffers: this.#liveBuffers,
      liveBytes: this.#liveBytes,
      pooledBuffers: this.#pooledBuffers,
      pooledBytes: this.#pooledBytes,
      peakBytes: this.#peakBytes,
    };
  }
}
