/**
 * Element-wise kernels over strided views.
 *
 * One generator serves unary and binary math with broadcasting, copies that
 * permute, slice or concatenate, and fused multi-input formulas: every operand
 * and the output are addressed as strided views of a flat buffer, and the
 * kernel walks the output elements in a grid-stride loop.
 *
 * @module
 */

import {
  contiguousStrides,
  type DeviceBuffer,
  type MapSpec,
  type Shape,
  type View,
} from "../backend.ts";
import type { WebGpu } from "./context.ts";
import {
  elementsPerInvocation,
  GRID_STRIDE_WORKGROUP,
  gridStrideGroups,
  gridStrideMain,
  type KernelSpec,
  type Param,
  type StorageBinding,
} from "./kernel.ts";

function isDense(view: View, shape: Shape): boolean {
  if (view.offset !== 0) return false;
  const dense = contiguousStrides(shape);
  return shape.every((d, k) => d === 1 || view.strides[k] === dense[k]);
}

function isBroadcastScalar(view: View): boolean {
  return view.strides.every((s) => s === 0);
}

/** WGSL statements computing `name` (u32), the flat index of element `i` in `view`. */
export function indexCode(name: string, view: View, shape: Shape): string {
  if (isDense(view, shape)) return `let ${name} = i + ${view.offset}u;`;
  if (isBroadcastScalar(view)) return `let ${name} = ${view.offset}u;`;
  const lines = [`var ${name} = ${view.offset}u;`, `{ var r = i;`];
  for (let k = shape.length - 1; k >= 0; k--) {
    if (shape[k] === 1) continue;
    const last = k === 0 || shape.slice(0, k).every((d) => d === 1);
    const coord = last ? "r" : `(r % ${shape[k]}u)`;
    if (view.strides[k] !== 0) lines.push(`${name} += ${coord} * ${view.strides[k]}u;`);
    if (!last) lines.push(`r = r / ${shape[k]}u;`);
  }
  lines.push("}");
  return lines.join(" ");
}

/**
 * Bindings of a kernel's operands where an operand repeated (the same
 * buffer read through two views, or written at two offsets) takes one
 * binding: the distinct buffers, and each operand's binding among them.
 * Reads and writes are shared separately, since WebGPU does not let one
 * buffer be bound both ways in a dispatch.
 */
export interface SharedBindings {
  buffers: GPUBuffer[];
  slots: number[];
}

/** See {@link SharedBindings}. */
export function shareBindings(buffers: readonly DeviceBuffer[]): SharedBindings {
  const distinct: GPUBuffer[] = [];
  const slots = buffers.map((buffer) => {
    const at = distinct.indexOf(gpuBuffer(buffer));
    return at >= 0 ? at : distinct.push(gpuBuffer(buffer)) - 1;
  });
  return { buffers: distinct, slots };
}

/** Storage bindings `X0`, `X1`, ... read and `Y0`, `Y1`, ... written. */
export function operandBindings(reads: number, writes: number): StorageBinding[] {
  return [
    ...Array.from({ length: reads }, (_, k) => ({ name: `X${k}`, access: "read" as const })),
    ...Array.from({ length: writes }, (_, k) => ({ name: `Y${k}`, access: "read_write" as const })),
  ];
}

/**
 * WGSL of a backend formula (see `backend.ts`): the same syntax, with scalar
 * parameters read from the uniform struct.
 */
export function wgslFormula(expr: string): string {
  return expr.replace(/\bs(\d+)\b/g, "P.s$1");
}

/** Uniform parameters `s0`, `s1`, ... of `count` scalars. */
export function scalarParams(count: number): Param[] {
  return Array.from({ length: count }, (_, k) => ({ name: `s${k}`, type: "f32" }));
}

/** A map's kernel spec and the buffers to bind (exported for tests of the generated code). */
export function mapKernel(spec: MapSpec): { kernel: KernelSpec; buffers: GPUBuffer[] } {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const reads = shareBindings(spec.inputs.map((x) => x.buffer));
  const writes = shareBindings(spec.outputs.map((x) => x.buffer));
  const loads = spec.inputs.map((input, k) =>
    `${indexCode(`j${k}`, input.view, spec.shape)} let x${k} = X${reads.slots[k]}[j${k}];`
  ).join("\n    ");
  const lets = (spec.lets ?? []).map((l) => `let ${l.name} = ${wgslFormula(l.expr)};`)
    .join("\n    ");
  const stores = spec.outputs.map((output, k) =>
    `{ ${indexCode("o", output.view, spec.shape)} Y${writes.slots[k]}[o] = ${
      wgslFormula(output.expr)
    }; }`
  ).join("\n    ");
  const kernel = {
    name: spec.name,
    bindings: operandBindings(reads.buffers.length, writes.buffers.length),
    params: scalarParams(spec.scalars?.length ?? 0),
    workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1] as [number, number, number],
    body: gridStrideMain(
      `${n}u`,
      `
    ${loads}
    ${lets}
    ${stores}`,
    ),
  };
  return { kernel, buffers: [...reads.buffers, ...writes.buffers] };
}

/** Records a map kernel. */
export function runMap(gpu: WebGpu, spec: MapSpec): void {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const { kernel, buffers } = mapKernel(spec);
  gpu.runtime.dispatch(
    gpu.kernels.get(kernel),
    buffers,
    gridStrideGroups(n, elementsPerInvocation(gpu.variant)),
    spec.scalars ?? [],
  );
}

/** The GPU buffer behind a backend buffer of the WebGPU backend. */
export function gpuBuffer(buffer: DeviceBuffer): GPUBuffer {
  return buffer as GPUBuffer;
}
