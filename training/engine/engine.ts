/**
 * The engine context: the backend that tensors and ops run on, opened by
 * {@link initEngine}.
 *
 * The backend is chosen by the `backend` option or `IGAN_BACKEND`
 * (`auto` | `cpu` | `webgpu`). `auto` takes WebGPU when a hardware adapter
 * exists and the CPU backend (OpenBLAS) when the only adapter is a software
 * one (llvmpipe) or there is none. Several backends may be opened in one
 * process (tests compare them); the last one opened is current, and a tensor
 * can only be used while the backend that holds it is current.
 *
 * @module
 */

import type { Backend, BackendKind, BackendReport } from "./backend.ts";
import type { MemoryStats } from "./buffer_pool.ts";
import { openCpuBackend } from "./cpu/backend.ts";
import { EngineError, WebGpuUnavailableError } from "./errors.ts";
import { openWebGpuBackend } from "./webgpu/backend.ts";
import {
  type AdapterPreference,
  adapterPreference,
  envChoice,
  type KernelVariant,
  probeAdapter,
} from "./webgpu/device.ts";

/** Options of {@link initEngine}. */
export interface EngineOptions {
  backend?: BackendKind | "auto";
  /** WebGPU only: which adapter to ask for. */
  adapter?: AdapterPreference;
  /** WebGPU only: force a kernel variant. */
  kernels?: KernelVariant | "auto";
}

/** The open engine. */
export interface Engine {
  backend: Backend;
  report: BackendReport;
}

const open = new Map<BackendKind, Promise<Engine>>();
let current: Engine | null = null;

/** Which backend `auto` means on this machine. */
async function autoBackend(options: EngineOptions): Promise<BackendKind> {
  // Asking for an adapter, by option or by IGAN_ADAPTER, is asking for WebGPU.
  if (adapterPreference(options) !== "auto") return "webgpu";
  try {
    const adapter = await probeAdapter();
    return adapter && !adapter.software ? "webgpu" : "cpu";
  } catch (error) {
    if (error instanceof WebGpuUnavailableError) return "cpu";
    throw error;
  }
}

/**
 * Opens the chosen backend (once per kind; later calls with the same choice
 * return the same engine) and makes it current. Options only apply to the
 * first opening of a backend.
 */
export async function initEngine(options: EngineOptions = {}): Promise<Engine> {
  const choice = options.backend ?? envChoice("IGAN_BACKEND", ["auto", "cpu", "webgpu"] as const) ??
    "auto";
  const kind = choice === "auto" ? await autoBackend(options) : choice;
  let opening = open.get(kind);
  if (!opening) {
    opening = (kind === "cpu" ? openCpuBackend() : openWebGpuBackend(options)).then((backend) => ({
      backend,
      report: backend.report,
    }));
    open.set(kind, opening);
    opening.catch(() => open.delete(kind));
  }
  current = await opening;
  return current;
}

/** The current engine; throws if {@link initEngine} has not completed. */
export function getEngine(): Engine {
  if (!current) {
    throw new EngineError("The engine is not open: `await initEngine()` before using tensors.");
  }
  return current;
}

/** The current engine's backend. */
export function backend(): Backend {
  return getEngine().backend;
}

/** Waits for all submitted work and reports the device's errors. */
export function sync(): Promise<void> {
  return backend().sync();
}

/**
 * Frees the buffers the backend keeps for reuse (after submitting the work
 * recorded so far, which may still use them).
 */
export function trimMemory(): void {
  backend().trim();
}

/** Memory counters of the current backend (see {@link MemoryStats}). */
export function memoryStats(): MemoryStats {
  return backend().memory();
}
