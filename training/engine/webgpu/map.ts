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

/** Binding name of output `k` of `outputs`. */
function outputName(k: number, outputs: number): string {
  return outputs === 1 ? "Y" : `Y${k}`;
}

/**
 * Bindings of kernels reading operands `X0`, `X1`, ... and writing `Y` (one
 * output) or `Y0`, `Y1`, ... (several).
 */
export function operandBindings(inputs: number, outputs = 1): StorageBinding[] {
  return [
    ...Array.from({ length: inputs }, (_, k) => ({ name: `X${k}`, access: "read" as const })),
    ...Array.from({ length: outputs }, (_, k) => ({
      name: outputName(k, outputs),
      access: "read_write" as const,
    })),
  ];
}

/**
 * WGSL of a backend formula (see `backend.ts`): the same syntax, with scalar
 * parameters read from the uniform struct.
 */
export function wgslFormula(expr: string): string {
  return expr.replace(/\bs(\d+)\b/g, "P.s$1");
}

/** Builds the kernel spec of a map (exported for tests of the generated code). */
export function mapKernelSpec(spec: MapSpec): KernelSpec {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const params: Param[] = (spec.scalars ?? []).map((_, k) => ({ name: `s${k}`, type: "f32" }));
  const loads = spec.inputs.map((input, k) =>
    `${indexCode(`j${k}`, input.view, spec.shape)} let x${k} = X${k}[j${k}];`
  ).join("\n    ");
  const lets = (spec.lets ?? []).map((l) => `let ${l.name} = ${wgslFormula(l.expr)};`)
    .join("\n    ");
  const stores = spec.outputs.map((output, k) =>
    `{ ${indexCode("o", output.view, spec.shape)} ${outputName(k, spec.outputs.length)}[o] = ${
      wgslFormula(output.expr)
    }; }`
  ).join("\n    ");
  return {
    name: spec.name,
    bindings: operandBindings(spec.inputs.length, spec.outputs.length),
    params,
    workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1],
    body: gridStrideMain(
      `${n}u`,
      `
    ${loads}
    ${lets}
    ${stores}`,
    ),
  };
}

/** Records a map kernel. */
export function runMap(gpu: WebGpu, spec: MapSpec): void {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const buffers = [...spec.inputs, ...spec.outputs].map((x) => x.buffer as GPUBuffer);
  gpu.runtime.dispatch(
    gpu.kernels.get(mapKernelSpec(spec)),
    buffers,
    gridStrideGroups(n, elementsPerInvocation(gpu.variant)),
    spec.scalars ?? [],
  );
}

/** The GPU buffer behind a backend buffer of the WebGPU backend. */
export function gpuBuffer(buffer: DeviceBuffer): GPUBuffer {
  return buffer as GPUBuffer;
}
