/**
 * The engine context: one device with its buffer pool, kernel cache and
 * runtime. Tensors and ops use the context opened by {@link initEngine}.
 *
 * @module
 */

import { BufferPool, type MemoryStats } from "./buffer_pool.ts";
import {
  type AdapterReport,
  type DeviceOptions,
  type KernelVariant,
  openDevice,
} from "./device.ts";
import { EngineError } from "./errors.ts";
import { KernelCache } from "./kernel.ts";
import { Runtime } from "./runtime.ts";

/** The open engine. */
export interface Engine {
  device: GPUDevice;
  report: AdapterReport;
  variant: KernelVariant;
  pool: BufferPool;
  kernels: KernelCache;
  runtime: Runtime;
}

let current: Engine | null = null;
let opening: Promise<Engine> | null = null;

/**
 * Opens the device once; later calls return the same engine. Options only
 * apply to the first call.
 */
export function initEngine(options: DeviceOptions = {}): Promise<Engine> {
  if (current) return Promise.resolve(current);
  opening ??= openDevice(options).then((open) => {
    current = {
      device: open.device,
      report: open.report,
      variant: open.report.variant,
      pool: new BufferPool(open.device, open.report.maxStorageBufferBytes),
      kernels: new KernelCache(open.device),
      runtime: new Runtime(open.device, open.uniformAlignment),
    };
    return current;
  }).finally(() => {
    opening = null;
  });
  return opening;
}

/** The open engine; throws if {@link initEngine} has not completed. */
export function getEngine(): Engine {
  if (!current) {
    throw new EngineError("The engine is not open: `await initEngine()` before using tensors.");
  }
  return current;
}

/** Waits for all submitted GPU work and reports GPU errors. */
export function sync(): Promise<void> {
  return getEngine().runtime.sync();
}

/**
 * Destroys the buffers the pool keeps for reuse (after submitting the work
 * recorded so far, which may still use them).
 */
export function trimMemory(): void {
  const engine = getEngine();
  engine.runtime.flush();
  engine.pool.trim();
}

/** GPU memory counters (see {@link MemoryStats}). */
export function memoryStats(): MemoryStats {
  return getEngine().pool.stats();
}
