/**
 * Reuses device buffers by size class, so that a training loop that
 * allocates the same shapes every step stops creating buffers after its first
 * step, and counts what is live so tests can check that nothing leaks. Each
 * backend has one pool over its own kind of buffer.
 *
 * @module
 */

import { GpuMemoryError } from "./errors.ts";

/** Counters of device memory held by the engine. */
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

/** How a pool makes, measures and frees its backend's buffers. */
export interface BufferAllocator<B> {
  /** A new buffer of exactly `bytes` bytes. */
  create(bytes: number): B;
  /** The size in bytes of a buffer `create` made. */
  bytesOf(buffer: B): number;
  destroy(buffer: B): void;
  /** Largest buffer the device allows, in bytes. */
  maxBytes: number;
  /** What the limit is, for the error message ("this adapter's storage buffer limit"). */
  limitName: string;
}

/** The pool. One per backend; it owns every buffer of tensors. */
export class BufferPool<B> {
  readonly #allocator: BufferAllocator<B>;
  readonly #free = new Map<number, B[]>();
  #liveBuffers = 0;
  #liveBytes = 0;
  #pooledBuffers = 0;
  #pooledBytes = 0;
  #peakBytes = 0;

  constructor(allocator: BufferAllocator<B>) {
    this.#allocator = allocator;
  }

  /** A buffer of at least `bytes` bytes (contents undefined). */
  acquire(bytes: number): B {
    const size = sizeClass(bytes);
    if (size > this.#allocator.maxBytes) {
      throw new GpuMemoryError(
        `A tensor of ${bytes} bytes exceeds ${this.#allocator.limitName} of ` +
          `${this.#allocator.maxBytes} bytes; use a smaller batch or model.`,
      );
    }
    const bucket = this.#free.get(size);
    let buffer = bucket?.pop();
    if (buffer) {
      this.#pooledBuffers--;
      this.#pooledBytes -= size;
    } else {
      buffer = this.#allocator.create(size);
    }
    this.#liveBuffers++;
    this.#liveBytes += size;
    this.#peakBytes = Math.max(this.#peakBytes, this.#liveBytes + this.#pooledBytes);
    return buffer;
  }

  /** Gives a buffer back for reuse. */
  release(buffer: B): void {
    const size = this.#allocator.bytesOf(buffer);
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
   * use them: backends submit those first.
   */
  trim(): void {
    for (const bucket of this.#free.values()) {
      for (const buffer of bucket) this.#allocator.destroy(buffer);
    }
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
