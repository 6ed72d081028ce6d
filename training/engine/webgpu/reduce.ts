/**
 * Sum reductions over any set of axes, with an element-wise prologue over
 * several broadcast operands (so that, e.g., a variance is one pass over
 * `(x - mean)^2`), and one or more outputs summed in the same pass.
 *
 * When few outputs would leave the device idle, the reduced range is split in
 * chunks whose partial sums a second, small reduction adds up.
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

/** Spec of one reduction pass over `chunks` chunks of the reduced range. */
function reduceKernelSpec(spec: ReduceSpec, chunks: number): KernelSpec {
  const keptAxes = spec.shape.map((_, k) => k).filter((k) => !spec.axes.includes(k));
  const outCount = keptAxes.reduce((a, k) => a * spec.shape[k], 1);
  const reduceCount = spec.axes.reduce((a, k) => a * spec.shape[k], 1);
  const chunk = Math.ceil(reduceCount / chunks);
  const dims = (view: View, axes: readonly number[]) =>
    axes.map((k) => ({ size: spec.shape[k], stride: view.strides[k] }));
  const bases = spec.inputs.map((input, k) =>
    `var b${k} = ${input.view.offset}u; ${decompose(`b${k}`, "o", dims(input.view, keptAxes))}`
  ).join("\n    ");
  const loads = spec.inputs.map((input, k) =>
    `var j${k} = b${k}; ${
      decompose(`j${k}`, "r", dims(input.view, spec.axes))
    } let x${k} = X${k}[j${k}];`
  ).join("\n      ");
  const outputs = spec.outputs.length;
  const out = (k: number) => outputs === 1 ? "Y" : `Y${k}`;
  const scaled = (k: number) => {
    const scale = spec.outputs[k].scale;
    return chunks > 1 || scale === undefined || scale === 1 ? "" : ` * ${formulaLiteral(scale)}`;
  };
  const each = (line: (k: number) => string) => spec.outputs.map((_, k) => line(k)).join(" ");
  return {
    name: spec.name,
    bindings: operandBindings(spec.inputs.length, outputs),
    workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1],
    body: gridStrideMain(
      `${outCount * chunks}u`,
      `
    let o = t / ${chunks}u;
    let first = (t % ${chunks}u) * ${chunk}u;
    let last = min(${reduceCount}u, first + ${chunk}u);
    ${bases}
    ${each((k) => `var acc${k} = 0.0;`)}
    for (var r = first; r < last; r++) {
      ${loads}
      ${each((k) => `acc${k} += ${wgslFormula(spec.outputs[k].expr ?? "x0")};`)}
    }
    ${each((k) => `${out(k)}[t] = acc${k}${scaled(k)};`)}`,
      "",
      "t",
    ),
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
