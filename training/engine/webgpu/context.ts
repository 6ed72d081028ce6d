/**
 * What the WebGPU backend's kernels share: the device, its runtime, kernel
 * cache and buffer pool, and the kernel variant chosen for the adapter.
 *
 * @module
 */

import type { BufferPool } from "../buffer_pool.ts";
import type { KernelVariant } from "./device.ts";
import type { KernelCache } from "./kernel.ts";
import type { Runtime } from "./runtime.ts";

/** The open WebGPU device with everything the kernels need. */
export interface WebGpu {
  device: GPUDevice;
  variant: KernelVariant;
  pool: BufferPool<GPUBuffer>;
  kernels: KernelCache;
  runtime: Runtime;
}
