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

import type { Engine } from "../engine.ts";
import {
  elementsPerInvocation,
  GRID_STRIDE_WORKGROUP,
  gridStrideGroups,
  gridStrideMain,
  type KernelSpec,
  type Param,
  type StorageBinding,
} from "../kernel.ts";
import type { Shape } from "../tensor.ts";

/** How the elements of an iteration space map to a flat buffer. */
export interface View {
  /** Element strides, one per dimension of the iteration shape (0 = broadcast). */
  strides: readonly number[];
  /** Element offset of index (0, ..., 0). */
  offset: number;
}

/** Strides of a dense row-major tensor. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = s;
    s *= shape[k];
  }
  return strides;
}

/** The dense view of a tensor of `shape`. */
export function denseView(shape: Shape): View {
  return { strides: contiguousStrides(shape), offset: 0 };
}

/**
 * The view of a tensor of `inShape` broadcast to `outShape` (numpy rules,
 * aligned on the right).
 */
export function broadcastView(inShape: Shape, outShape: Shape): View {
  const inStrides = contiguousStrides(inShape);
  const lead = outShape.length - inShape.length;
  const strides = outShape.map((_, k) => {
    const j = k - lead;
    return j < 0 || inShape[j] === 1 ? 0 : inStrides[j];
  });
  return { strides, offset: 0 };
}

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

/** One operand of a map kernel. */
export interface MapInput {
  buffer: GPUBuffer;
  view: View;
}

/** A map kernel: out[view] = f(inputs[views], scalars). */
export interface MapSpec {
  name: string;
  /** Iteration shape. */
  shape: Shape;
  inputs: MapInput[];
  output: MapInput;
  /**
   * WGSL expression of the output element. Operands are `x0`, `x1`, ...
   * (f32), scalar parameters `P.s0`, `P.s1`, ...
   */
  expr: string;
  scalars?: readonly number[];
}

/** Bindings of kernels reading operands `X0`, `X1`, ... and writing `Y`. */
export function operandBindings(inputs: number): StorageBinding[] {
  return [
    ...Array.from({ length: inputs }, (_, k) => ({ name: `X${k}`, access: "read" as const })),
    { name: "Y", access: "read_write" },
  ];
}

/** Builds the kernel spec of a map (exported for tests of the generated code). */
export function mapKernelSpec(spec: MapSpec): KernelSpec {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const params: Param[] = (spec.scalars ?? []).map((_, k) => ({ name: `s${k}`, type: "f32" }));
  const loads = spec.inputs.map((input, k) =>
    `${indexCode(`j${k}`, input.view, spec.shape)} let x${k} = X${k}[j${k}];`
  ).join("\n    ");
  return {
    name: spec.name,
    bindings: operandBindings(spec.inputs.length),
    params,
    workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1],
    body: gridStrideMain(
      `${n}u`,
      `
    ${loads}
    ${indexCode("o", spec.output.view, spec.shape)}
    Y[o] = ${spec.expr};`,
    ),
  };
}

/** Records a map kernel. */
export function runMap(engine: Engine, spec: MapSpec): void {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  engine.runtime.dispatch(
    engine.kernels.get(mapKernelSpec(spec)),
    [...spec.inputs.map((x) => x.buffer), spec.output.buffer],
    gridStrideGroups(n, elementsPerInvocation(engine.variant)),
    spec.scalars ?? [],
  );
}
