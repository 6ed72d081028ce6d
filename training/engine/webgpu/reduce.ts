/**
 * Sum reductions over any set of axes, with an element-wise prologue over
 * several broadcast operands (so that, e.g., a variance is one pass over
 * `(x - mean)^2`), one or more outputs summed in the same pass, and an
 * epilogue over the sums in the pass that finishes them. Repeated buffers
 * share a binding, which keeps fused kernels within WebGPU's 8 storage
 * buffers per stage.
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
import { operandBindings, scalarParams, shareBindings, wgslFormula } from "./map.ts";

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

/** The WGSL that a reduction's kernels share: counts, bindings, operand indexing, the sums. */
function reductionCode(spec: ReduceSpec) {
  const keptAxes = spec.shape.map((_, k) => k).filter((k) => !spec.axes.includes(k));
  const outCount = keptAxes.reduce((a, k) => a * spec.shape[k], 1);
  const reduceCount = spec.axes.reduce((a, k) => a * spec.shape[k], 1);
  const dims = (view: View, axes: readonly number[]) =>
    axes.map((k) => ({ size: spec.shape[k], stride: view.strides[k] }));
  const each = (line: (k: number) => string) => spec.outputs.map((_, k) => line(k)).join(" ");
  const epilogue = spec.epilogue;
  const n = spec.inputs.length;
  const reads = shareBindings([...spec.inputs.map((x) => x.buffer), ...(epilogue?.inputs ?? [])]);
  const written = spec.outputs.flatMap((o, k) =>
    o.buffer ? [{ k, buffer: o.buffer, offset: o.offset }] : []
  );
  const writes = shareBindings([
    ...written.map((w) => w.buffer),
    ...(epilogue?.outputs.map((o) => o.buffer) ?? []),
  ]);
  const store = (k: number, offset: number | undefined, at: string, value: string) =>
    `Y${writes.slots[k]}[${offset ?? 0}u + ${at}] = ${value};`;
  return {
    outCount,
    reduceCount,
    bindings: operandBindings(reads.buffers.length, writes.buffers.length),
    params: scalarParams(epilogue?.scalars?.length ?? 0),
    buffers: [...reads.buffers, ...writes.buffers],
    scalars: epilogue?.scalars ?? [],
    each,
    /** Each input's index at output `o`: `b<k>`. */
    bases: spec.inputs.map((input, k) =>
      `var b${k} = ${input.view.offset}u; ${decompose(`b${k}`, "o", dims(input.view, keptAxes))}`
    ).join("\n    "),
    /** Adds reduced element `r` to `acc<k>`. */
    accumulate: [
      ...spec.inputs.map((input, k) =>
        `var j${k} = b${k}; ${decompose(`j${k}`, "r", dims(input.view, spec.axes))} let x${k} = X${
          reads.slots[k]
        }[j${k}];`
      ),
      each((k) => `acc${k} += ${wgslFormula(spec.outputs[k].expr ?? "x0")};`),
    ].join("\n      "),
    /**
     * Given each sum's value (unscaled), the scaled sums `r<k>`, the stores
     * of those written and the epilogue, at output index `at`.
     */
    finish: (value: (k: number) => string, at: string) =>
      [
        each((k) => {
          const scale = spec.outputs[k].scale;
          const scaled = scale === undefined || scale === 1
            ? value(k)
            : `${value(k)} * ${formulaLiteral(scale)}`;
          return `let r${k} = ${scaled};`;
        }),
        ...written.map((w, i) => store(i, w.offset, at, `r${w.k}`)),
        ...(epilogue?.inputs.map((_, k) => `let y${k} = X${reads.slots[n + k]}[${at}];`) ?? []),
        ...(epilogue?.lets ?? []).map((l) => `let ${l.name} = ${wgslFormula(l.expr)};`),
        ...(epilogue?.outputs.map((o, k) =>
          store(written.length + k, o.offset, at, wgslFormula(o.expr))
        ) ?? []),
      ].join("\n    "),
  };
}

/** A reduction's shared WGSL (see {@link reductionCode}). */
type ReductionCode = ReturnType<typeof reductionCode>;

/** Spec of a reduction pass in which each invocation sums an output's whole range. */
function reduceKernelSpec(name: string, c: ReductionCode): KernelSpec {
  return {
    name,
    bindings: c.bindings,
    params: c.params,
    workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1],
    body: gridStrideMain(
      `${c.outCount}u`,
      `
    ${c.bases}
    ${c.each((k) => `var acc${k} = 0.0;`)}
    for (var r = 0u; r < ${c.reduceCount}u; r++) {
      ${c.accumulate}
    }
    ${c.finish((k) => `acc${k}`, "o")}`,
      "",
      "o",
    ),
  };
}

/** `spec` with its sums unwritten and no epilogue: what the first of two passes binds. */
function sumsOnly(spec: ReduceSpec): ReduceSpec {
  return { ...spec, outputs: spec.outputs.map(({ expr }) => ({ expr })), epilogue: undefined };
}

/**
 * Spec of the first of two passes: each invocation sums one of `chunks`
 * chunks of an output's range; one buffer holds the partial sums, those of
 * sum k from k * (kept elements) * chunks.
 */
function partialsKernelSpec(name: string, c: ReductionCode, chunks: number): KernelSpec {
  const chunk = Math.ceil(c.reduceCount / chunks);
  const size = c.outCount * chunks;
  return {
    name,
    bindings: [...c.bindings, { name: "Partials", access: "read_write" }],
    workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1],
    body: gridStrideMain(
      `${size}u`,
      `
    let o = t / ${chunks}u;
    let first = (t % ${chunks}u) * ${chunk}u;
    let last = min(${c.reduceCount}u, first + ${chunk}u);
    ${c.bases}
    ${c.each((k) => `var acc${k} = 0.0;`)}
    for (var r = first; r < last; r++) {
      ${c.accumulate}
    }
    ${c.each((k) => `Partials[${k * size}u + t] = acc${k};`)}`,
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
function treeKernelSpec(name: string, c: ReductionCode): KernelSpec {
  const size = TREE_WORKGROUP;
  return {
    name,
    bindings: c.bindings,
    params: c.params,
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
    if (lane == 0u) {
    ${c.finish((k) => `sums${k}[0]`, "o")}
    }
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
  const run = (c: ReductionCode, kernel: KernelSpec, grid: [number, number, number]) =>
    engine.runtime.dispatch(engine.kernels.get(kernel), c.buffers, grid, c.scalars);
  if (chunks === 1) {
    const c = reductionCode(spec);
    return run(c, reduceKernelSpec(spec.name, c), groups(keptCount));
  }
  // Few outputs (chunks > 1 only when under the target) of ranges a workgroup sums in one pass.
  if (reduceCount <= TREE_WORKGROUP * TREE_VALUES_PER_INVOCATION) {
    const c = reductionCode(spec);
    return run(c, treeKernelSpec(spec.name, c), [keptCount, 1, 1]);
  }
  // Partial sums of each output's chunks, then a second pass that adds them (and finishes).
  const size = keptCount * chunks;
  const partials = engine.pool.acquire(spec.outputs.length * size * 4);
  const first = reductionCode(sumsOnly(spec));
  engine.runtime.dispatch(
    engine.kernels.get(partialsKernelSpec(spec.name, first, chunks)),
    [...first.buffers, partials],
    groups(size),
  );
  const second: ReduceSpec = {
    name: `${spec.name}_partials`,
    shape: [keptCount, chunks],
    axes: [1],
    inputs: spec.outputs.map((_, k) => ({
      buffer: partials,
      view: { strides: [chunks, 1], offset: k * size },
    })),
    outputs: spec.outputs.map((o, k) => ({ ...o, expr: `x${k}` })),
    epilogue: spec.epilogue,
  };
  const c = reductionCode(second);
  run(c, reduceKernelSpec(second.name, c), groups(keptCount));
  engine.pool.release(partials);
}
