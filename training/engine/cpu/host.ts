/**
 * The CPU backend's buffers are host arrays: one cast, for every module of
 * the backend.
 *
 * @module
 */

import type { DeviceBuffer } from "../backend.ts";

/** The host array behind a buffer of the CPU backend. */
export function host(buffer: DeviceBuffer): Float32Array {
  return buffer as Float32Array;
}
