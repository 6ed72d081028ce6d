/**
 * Opens a WebGPU device for the engine's WebGPU backend: picks the adapter,
 * asks for the limits the kernels need, and decides which kernel variants to
 * use.
 *
 * Environment variables (read when no option is given):
 * - `IGAN_ADAPTER` = `auto` | `software` | `hardware`: force the software
 *   adapter (Mesa llvmpipe) or a hardware GPU.
 * - `IGAN_KERNELS` = `auto` | `cpu` | `gpu`: force a kernel variant.
 * - `LP_NATIVE_VECTOR_WIDTH`: llvmpipe's SIMD width; set to 512 by default on
 *   CPUs with AVX-512, where it runs our kernels faster.
 * - `DENO_WEBGPU_BACKEND`: Deno's wgpu backends; set to `vulkan` by default on
 *   Linux. With all backends, wgpu also loads the OpenGL one (libEGL), whose
 *   teardown at exit raced with a thread's and aborted ~1 process in 10 with
 *   "double free or corruption" after all work had finished.
 *
 * @module
 */

import { EngineError, WebGpuUnavailableError } from "../errors.ts";

/** Which adapter to ask for. */
export type AdapterPreference = "auto" | "software" | "hardware";

/**
 * Kernel family. `cpu` kernels suit CPU-like adapters (llvmpipe): each
 * invocation keeps a register block and no workgroup barriers are used.
 * `gpu` kernels tile through workgroup memory, as real GPUs want.
 */
export type KernelVariant = "cpu" | "gpu";

/** Options of {@link openDevice}. */
export interface DeviceOptions {
  adapter?: AdapterPreference;
  kernels?: KernelVariant | "auto";
}

/** What the engine reports about the adapter it runs on. */
export interface AdapterReport {
  description: string;
  vendor: string;
  architecture: string;
  software: boolean;
  variant: KernelVariant;
  maxStorageBufferBytes: number;
  maxBufferBytes: number;
}

/** An open device with the facts the engine needs about it. */
export interface OpenDevice {
  device: GPUDevice;
  report: AdapterReport;
  /** Alignment of dynamic uniform offsets. */
  uniformAlignment: number;
}

const INSTALL_HINT =
  "Install a Vulkan driver: on Debian/Ubuntu `apt-get install mesa-vulkan-drivers` " +
  "gives the software adapter llvmpipe; on a GPU machine install its vendor's Vulkan driver.";

/** An environment variable restricted to `allowed` values; undefined when unset or unreadable. */
export function envChoice<T extends string>(name: string, allowed: readonly T[]): T | undefined {
  let value: string | undefined;
  try {
    value = Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
  if (value === undefined || value === "") return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new EngineError(`${name}=${value} is not valid; use one of: ${allowed.join(", ")}.`);
  }
  return value as T;
}

/** llvmpipe runs our kernels faster with 16-wide vectors where the CPU has AVX-512. */
function preferWideLlvmpipe(): void {
  try {
    if (Deno.env.get("LP_NATIVE_VECTOR_WIDTH")) return;
    const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
    if (/\bavx512f\b/.test(cpuinfo)) Deno.env.set("LP_NATIVE_VECTOR_WIDTH", "512");
  } catch {
    // Not Linux or no permission: keep llvmpipe's default width.
  }
}

/** Only Vulkan on Linux (see the module notes); must run before the first requestAdapter. */
function preferVulkanOnLinux(): void {
  try {
    if (Deno.build.os !== "linux" || Deno.env.get("DENO_WEBGPU_BACKEND")) return;
    Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
  } catch {
    // No --allow-env: keep Deno's default backends.
  }
}

/** True for adapters that run shaders on the CPU. */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  return info.isFallbackAdapter ||
    /llvmpipe|lavapipe|swiftshader|warp|software/i.test(
      `${info.description} ${info.device} ${info.vendor}`,
    );
}

async function requestAdapter(preference: AdapterPreference): Promise<GPUAdapter> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) {
    throw new WebGpuUnavailableError(`This runtime has no WebGPU (navigator.gpu). ${INSTALL_HINT}`);
  }
  if (preference === "software") {
    const adapter = await navigator.gpu.requestAdapter({ forceFallbackAdapter: true });
    if (adapter) return adapter;
    throw new WebGpuUnavailableError(
      `IGAN_ADAPTER=software but no software adapter was found. ${INSTALL_HINT}`,
    );
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new WebGpuUnavailableError(`No WebGPU adapter was found. ${INSTALL_HINT}`);
  if (preference === "hardware" && isSoftwareAdapter(adapter.info)) {
    throw new WebGpuUnavailableError(
      `IGAN_ADAPTER=hardware but the only adapter is "${adapter.info.description}", ` +
        "a software one. Install the GPU's Vulkan driver or unset IGAN_ADAPTER.",
    );
  }
  return adapter;
}

/**
 * Whether WebGPU has an adapter here and whether it is a software one,
 * without opening a device; null when there is none.
 */
export async function probeAdapter(): Promise<{ software: boolean; description: string } | null> {
  preferVulkanOnLinux();
  if (typeof navigator === "undefined" || !("gpu" in navigator)) return null;
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return null;
  return { software: isSoftwareAdapter(adapter.info), description: adapter.info.description };
}

/** The adapter asked for: the option, else `IGAN_ADAPTER`, else `auto`. */
export function adapterPreference(options: DeviceOptions = {}): AdapterPreference {
  return options.adapter ??
    envChoice("IGAN_ADAPTER", ["auto", "software", "hardware"] as const) ?? "auto";
}

/** Opens the device, with limits raised to what the adapter allows. */
export async function openDevice(options: DeviceOptions = {}): Promise<OpenDevice> {
  const preference = adapterPreference(options);
  const kernels = options.kernels ??
    envChoice("IGAN_KERNELS", ["auto", "cpu", "gpu"] as const) ?? "auto";
  preferVulkanOnLinux();
  if (preference !== "hardware") preferWideLlvmpipe();

  const adapter = await requestAdapter(preference);
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    // Timestamps let the runtime's profiler time each kernel (optional).
    requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(limits.maxStorageBuffersPerShaderStage, 10),
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: Math.min(limits.maxComputeInvocationsPerWorkgroup, 256),
    },
  });
  const software = isSoftwareAdapter(adapter.info);
  const variant: KernelVariant = kernels === "auto" ? (software ? "cpu" : "gpu") : kernels;
  return {
    device,
    uniformAlignment: device.limits.minUniformBufferOffsetAlignment,
    report: {
      description: adapter.info.description || adapter.info.device || "unknown adapter",
      vendor: adapter.info.vendor,
      architecture: adapter.info.architecture,
      software,
      variant,
      maxStorageBufferBytes: device.limits.maxStorageBufferBindingSize,
      maxBufferBytes: device.limits.maxBufferSize,
    },
  };
}
