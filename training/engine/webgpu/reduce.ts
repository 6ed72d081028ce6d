/**
 * Sum reductions over any set of axes, with an element-wise prologue over
 * several broadcast operands (so that, e.g., a variance is one pass over
 * `(x - mean)^2`), and one or more outputs summed in the same pass.
 *
 * When few outputs would leave the device idle, each output gets a workgroup
 * whose invocations share its range and add their sums in a tree (one pass);
 * a range too long for one workgroup is split in chunks whose partial sums a
 * second, small reduction adds up.
 *
 * @module
 */

import { formulaLiteral, type ReduceSpec, type View } from "../backend.ts";
import type { WebGpu } from "./context.ts";
import {
  GRID_STRIDE_WORKGROUP,
  gridStrideGroups,
  gridStrideMain,
  type KernelSpec,
} from "./kernel.ts";
import { gpuBuffer, operandBindings, wgslFormula } from "./map.ts";

function decompose(
  target: string,
  source: string,
  dims: { size: number; stride: number }[],
): string {
  const lines = [`{ var q = ${source};`];
  for (let k = dims.length - 1; k >= 0; k--) {
    const { size, stride } = dims[k];
    const coord = k === 0 ? "q" : `(q % ${size}u)`;
    if (stride !== 0) lines.push(`${target} += ${coord} * ${stride}u;`);
    if (k > 0) lines.push(`q = q / ${size}u;`);
  }
  lines.push("}");
  return lines.join(" ");
}

/** Invocations of a workgroup reduction: they share one output and add up in a tree. */
const TREE_WORKGROUP = 256;

/**
 * The most values each invocation of a workgroup reduction loops over; a
 * longer range is split in chunks whose partial sums a second pass adds.
 */
const TREE_VALUES_PER_INVOCATION = 1024;

/** The WGSL that a reduction's kernels share: counts, operand indexing and the summed formulas. */
function reductionCode(spec: ReduceSpec) {
  const keptAxes = spec.shape.map((_, k) => k).filter((k) => !spec.axes.includes(k));
  const outCount = keptAxes.reduce((a, k) => a * spec.shape[k], 1);
  const reduceCount = spec.axes.reduce((a, k) => a * spec.shape[k], 1);
  const dims = (view: View, axes: readonly number[]) =>
    axes.map((k) => ({ size: spec.shape[k], stride: view.strides[k] }));
  const each = (line: (k: number) => string) => spec.outputs.map((_, k) => line(k)).join(" ");
  const outputs = spec.outputs.length;
  return {
    outCount,
    reduceCount,
    bindings: operandBindings(spec.inputs.length, outputs),
    each,
    /** Each input's index at output `o`: `b<k>`. */
    bases: spec.inputs.map((input, k) =>
      `var b${k} = ${input.view.offset}u; ${decompose(`b${k}`, "o", dims(input.view, keptAxes))}`
    ).join("\n    "),
    /** Adds reduced element `r` to `acc<k>`. */
    accumulate: [
      ...spec.inputs.map((input, k) =>
        `var j${k} = b${k}; ${
          decompose(`j${k}`, "r", dims(input.view, spec.axes))
        } let x${k} = X${k}[j${k}];`
      ),
      each((k) => `acc${k} += ${wgslFormula(spec.outputs[k].expr ?? "x0")};`),
    ].join("\n      "),
    out: (k: number) => outputs === 1 ? "Y" : `Y${k}`,
    scaled: (k: number, value: string) => {
      const scale = spec.outputs[k].scale;
      return scale === undefined || scale === 1 ? value : `${value} * ${formulaLiteral(scale)}`;
    },
  };
}

/**
 * Spec of one reduction pass in which each invocation sums a chunk of the
 * reduced range, over `chunks` chunks (unscaled partial sums when more than one).
 */
function reduceKernelSpec(spec: ReduceSpec, chunks: number): KernelSpec {
  const c = reductionCode(spec);
  const chunk = Math.ceil(c.reduceCount / chunks);
  return {
    name: spec.name,
    bindings: c.bindings,
    workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1],
    body: gridStrideMain(
      `${c.outCount * chunks}u`,
      `
    let o = t / ${chunks}u;
    let first = (t % ${chunks}u) * ${chunk}u;
    let last = min(${c.reduceCount}u, first + ${chunk}u);
    ${c.bases}
    ${c.each((k) => `var acc${k} = 0.0;`)}
    for (var r = first; r < last; r++) {
      ${c.accumulate}
    }
    ${c.each((k) => `${c.out(k)}[t] = ${chunks > 1 ? `acc${k}` : c.scaled(k, `acc${k}`)};`)}`,
      "",
      "t",
    ),
  };
}

/**
 * Spec of a reduction in one pass with a workgroup per output: its
 * invocations stride over the reduced range, then add their sums in a tree
 * in workgroup memory.
 */
function treeKernelSpec(spec: ReduceSpec): KernelSpec {
  const c = reductionCode(spec), size = TREE_WORKGROUP;
  return {
    name: spec.name,
    bindings: c.bindings,
    workgroupSize: [size, 1, 1],
    body: `
${c.each((k) => `var<workgroup> sums${k}: array<f32, ${size}>;`)}
@compute @workgroup_size(${size}, 1, 1)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) lane: u32) {
    let o = group.x;
    ${c.bases}
    ${c.each((k) => `var acc${k} = 0.0;`)}
    for (var r = lane; r < ${c.reduceCount}u; r += ${size}u) {
      ${c.accumulate}
    }
    ${c.each((k) => `sums${k}[lane] = acc${k};`)}
    workgroupBarrier();
    for (var span = ${size / 2}u; span > 0u; span = span / 2u) {
      if (lane < span) { ${c.each((k) => `sums${k}[lane] += sums${k}[lane + span];`)} }
      workgroupBarrier();
    }
    if (lane == 0u) { ${c.each((k) => `${c.out(k)}[o] = ${c.scaled(k, `sums${k}[0]`)};`)} }
}`,
  };
}

/** Records a reduction. */
export function runReduce(engine: WebGpu, spec: ReduceSpec): void {
  const keptCount = spec.shape.reduce((a, d, k) => spec.axes.includes(k) ? a : a * d, 1);
  const reduceCount = spec.axes.reduce((a, k) => a * spec.shape[k], 1);
  if (keptCount === 0) return;
  const target = engine.variant === "cpu" ? 256 : 8192;
  const chunks = Math.max(1, Math.min(Math.ceil(target / keptCount), Math.floor(reduceCount / 64)));
  // Each output is a loop already: fewer outputs per invocation than element-wise kernels.
  const groups = (count: number) => gridStrideGroups(count, engine.variant === "cpu" ? 4 : 1);
  const inputs = spec.inputs.map((x) => gpuBuffer(x.buffer));
  const outputs = spec.outputs.map((o) => gpuBuffer(o.buffer));
  if (chunks === 1) {
    const kernel = engine.kernels.get(reduceKernelSpec(spec, 1));
    engine.runtime.dispatch(kernel, [...inputs, ...outputs], groups(keptCount));
    return;
  }
  // Few outputs (chunks > 1 only when under the target) of ranges a workgroup sums in one pass.
  if (reduceCount <= TREE_WORKGROUP * TREE_VALUES_PER_INVOCATION) {
    const kernel = engine.kernels.get(treeKernelSpec(spec));
    engine.runtime.dispatch(kernel, [...inputs, ...outputs], [keptCount, 1, 1]);
    return;
  }
  // Each output's partial sums, then a second pass that adds them (and scales).
  const partials = spec.outputs.map(() => engine.pool.acquire(keptCount * chunks * 4));
  const first = engine.kernels.get(reduceKernelSpec(spec, chunks));
  engine.runtime.dispatch(first, [...inputs, ...partials], groups(keptCount * chunks));
  const second = engine.kernels.get(reduceKernelSpec({
    name: `${spec.name}_partials`,
    shape: [keptCount, chunks],
    axes: [1],
    inputs: partials.map((buffer) => ({ buffer, view: { strides: [chunks, 1], offset: 0 } })),
    outputs: spec.outputs.map((o, k) => ({ buffer: o.buffer, expr: `x${k}`, scale: o.scale })),
  }, 1));
  engine.runtime.dispatch(second, [...partials, ...outputs], groups(keptCount));
  for (const partial of partials) engine.pool.release(partial);
}
