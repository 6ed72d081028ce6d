/**
 * Compute kernels: a WGSL body plus the description of its bindings and
 * uniform parameters, compiled once per distinct source and cached.
 *
 * Bindings are declared from the description, so the WGSL and the pipeline
 * layout cannot disagree. Storage bindings come first, in order; a kernel with
 * parameters gets a uniform struct `P` at the next binding, bound with a
 * dynamic offset into the runtime's per-submission parameter arena.
 *
 * @module
 */

/** A storage buffer the kernel reads or writes. */
export interface StorageBinding {
  name: string;
  access: "read" | "read_write";
  /** Element type of the runtime-sized array. */
  type?: "f32" | "u32" | "i32" | "vec4f";
}

/** A scalar uniform parameter. */
export interface Param {
  name: string;
  type: "f32" | "u32" | "i32";
}

/** Everything needed to build a compute pipeline. */
export interface KernelSpec {
  /** Short name for errors and profiles. */
  name: string;
  bindings: StorageBinding[];
  params?: Param[];
  /** Workgroup size; the body's entry point must be `main` and declare the same. */
  workgroupSize: [number, number, number];
  /** WGSL code after the generated declarations. */
  body: string;
}

/** A compiled kernel. */
export interface Kernel {
  spec: KernelSpec;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** Bytes of the parameter struct (0 when none). */
  paramBytes: number;
}

/** Workgroup size of grid-stride kernels. */
export const GRID_STRIDE_WORKGROUP = 64;

/**
 * The entry point of a kernel whose invocations walk `index` over
 * [0, `count`) in a grid-stride loop (`count` is a WGSL expression);
 * `prelude` runs once per invocation before the loop.
 */
export function gridStrideMain(count: string, body: string, prelude = "", index = "i"): string {
  const size = GRID_STRIDE_WORKGROUP;
  return `
@compute @workgroup_size(${size}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let stride = groups.x * ${size}u;${prelude}
  for (var ${index} = gid.x; ${index} < ${count}; ${index} += stride) {${body}
  }
}`;
}

/**
 * Workgroups of a grid-stride kernel over `count` items, each invocation
 * taking about `perInvocation` of them.
 */
export function gridStrideGroups(count: number, perInvocation: number): [number, number, number] {
  return [Math.min(65535, Math.ceil(count / (GRID_STRIDE_WORKGROUP * perInvocation))), 1, 1];
}

/**
 * Items per invocation of element-wise kernels: CPU-like adapters pay per
 * invocation, so each takes several.
 */
export function elementsPerInvocation(variant: "cpu" | "gpu"): number {
  return variant === "cpu" ? 16 : 2;
}

/** The full WGSL source of a kernel. */
export function kernelSource(spec: KernelSpec): string {
  const lines = spec.bindings.map((b, i) =>
    `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<${b.type ?? "f32"}>;`
  );
  if (spec.params?.length) {
    const fields = spec.params.map((p) => `${p.name}: ${p.type},`).join(" ");
    lines.push(`struct Params { ${fields} }`);
    lines.push(`@group(0) @binding(${spec.bindings.length}) var<uniform> P: Params;`);
  }
  return `${lines.join("\n")}\n${spec.body}`;
}

/** Compiles kernels once per distinct source. */
export class KernelCache {
  readonly #device: GPUDevice;
  readonly #kernels = new Map<string, Kernel>();

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  get size(): number {
    return this.#kernels.size;
  }

  get(spec: KernelSpec): Kernel {
    const code = kernelSource(spec);
    const cached = this.#kernels.get(code);
    if (cached) return cached;
    const entries: GPUBindGroupLayoutEntry[] = spec.bindings.map((b, i) => ({
      binding: i,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: b.access === "read" ? "read-only-storage" : "storage" },
    }));
    const paramBytes = spec.params?.length ? Math.ceil(spec.params.length / 4) * 16 : 0;
    if (paramBytes) {
      entries.push({
        binding: spec.bindings.length,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "uniform", hasDynamicOffset: true, minBindingSize: paramBytes },
      });
    }
    const layout = this.#device.createBindGroupLayout({ label: spec.name, entries });
    const module = this.#device.createShaderModule({ label: spec.name, code });
    const pipeline = this.#device.createComputePipeline({
      label: spec.name,
      layout: this.#device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
    });
    const kernel = { spec, pipeline, layout, paramBytes };
    this.#kernels.set(code, kernel);
    return kernel;
  }
}
