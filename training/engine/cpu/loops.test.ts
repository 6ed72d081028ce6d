import { equal, match, throws } from "node:assert/strict";
import { denseView } from "../backend.ts";
import { EngineError } from "../errors.ts";
import {
  checkFormula,
  invariantLets,
  LoopCache,
  type LoopKernel,
  mapKernel,
  reduceKernel,
  simplifyDims,
} from "./loops.ts";

const run = (kernel: LoopKernel, buffers: Float32Array[], scalars: number[] = []) =>
  new LoopCache().get(kernel.source)(buffers, scalars, 0, kernel.outer);

Deno.test("dense maps become one loop; broadcast and permuted views keep their dimensions", () => {
  const shape = [2, 3, 4];
  equal(simplifyDims(shape, [denseView(shape), denseView(shape)]).length, 1);
  // A per-channel operand (stride 0 outside the channel axis) keeps three loops.
  equal(simplifyDims(shape, [denseView(shape), { strides: [0, 1, 0], offset: 0 }]).length, 3);
  // Size-1 dimensions vanish.
  equal(simplifyDims([1, 5, 1], [denseView([1, 5, 1])]).length, 1);
});

Deno.test("formulas outside the language are refused before anything is compiled", () => {
  const names = new Set(["x0", "s0"]);
  checkFormula("select(x0 * s0, x0, x0 >= 0.0) + inverseSqrt(1e-5 + x0)", names);
  throws(
    () => checkFormula("x1 + 1", names),
    (e) => e instanceof EngineError && /x1/.test(e.message),
  );
  throws(() => checkFormula("x0; Deno.exit(1)", names), EngineError);
  throws(() => checkFormula("globalThis.x0", names), EngineError);
});

Deno.test("a map with lets and two outputs, and select picking without arithmetic", () => {
  const x = new Float32Array([-2, 0, 3, Infinity]),
    y = new Float32Array(4),
    z = new Float32Array(4);
  const view = denseView([4]);
  const kernel = mapKernel({
    name: "t",
    shape: [4],
    inputs: [{ buffer: x, view }],
    outputs: [{ buffer: y, view, expr: "twice" }, {
      buffer: z,
      view,
      expr: "select(s0, x0, x0 > 0.0)",
    }],
    lets: [{ name: "twice", expr: "2.0 * x0" }],
    scalars: [7],
  });
  run(kernel, [x, y, z], [7]);
  equal([...y].join(), "-4,0,6,Infinity");
  // Infinity in the chosen branch and a finite one in the other: no NaN from 0 * Infinity.
  equal([...z].join(), "7,7,3,Infinity");
});

Deno.test("a reduction over interleaved axes, scaled, with a prologue formula", () => {
  // x [2, 3, 2] summed over axes 0 and 2 of (x - 1)^2, times 0.5: one value per middle index.
  const x = Float32Array.from({ length: 12 }, (_, i) => i);
  const out = new Float32Array(3);
  const shape = [2, 3, 2];
  const sum = {
    name: "r",
    shape,
    axes: [0, 2],
    inputs: [{ buffer: x, view: denseView(shape) }],
    outputs: [{ buffer: out }],
  };
  run(
    reduceKernel({
      ...sum,
      outputs: [{ buffer: out, expr: "(x0 - 1.0) * (x0 - 1.0)", scale: 0.5 }],
    }),
    [x, out],
  );
  const expected = [0, 1, 2].map((c) =>
    0.5 *
    [0, 1].flatMap((a) => [0, 1].map((b) => (a * 6 + c * 2 + b - 1) ** 2)).reduce((p, q) => p + q)
  );
  equal([...out].join(), expected.join());
  match(reduceKernel(sum).source, /acc/);
});

Deno.test("lets over per-row operands are computed once a row, before the innermost loop", () => {
  // x0 [2, 3] dense, x1 one value per row: `scale` reads only x1 and s0, `v` reads x0.
  const x0 = Float32Array.from({ length: 6 }, (_, i) => i), x1 = new Float32Array([10, 20]);
  const y = new Float32Array(6);
  const shape = [2, 3];
  const spec = {
    name: "t",
    shape,
    inputs: [{ buffer: x0, view: denseView(shape) }, {
      buffer: x1,
      view: { strides: [1, 0], offset: 0 },
    }],
    outputs: [{ buffer: y, view: denseView(shape), expr: "v" }],
    lets: [{ name: "scale", expr: "x1 * s0" }, { name: "v", expr: "x0 * scale + 1e-1" }],
    scalars: [0.5],
  };
  const dims = simplifyDims(shape, [...spec.inputs, ...spec.outputs].map((o) => o.view));
  equal([...invariantLets(spec.lets, dims, 2)].join(), "scale");
  const kernel = mapKernel(spec), source = kernel.source;
  const innermost = source.lastIndexOf("for (");
  match(source.slice(0, innermost), /const scale = x1 \* s0;/);
  match(source.slice(innermost), /const v = x0 \* scale/);
  run(kernel, [x0, x1, y], [0.5]);
  const expected = [0, 1, 2, 3, 4, 5].map((i) => Math.fround(i * (i < 3 ? 5 : 10) + 0.1));
  equal([...y].join(), expected.join());
  // With every operand moving in the innermost loop nothing is hoisted.
  equal(invariantLets(spec.lets, simplifyDims(shape, [denseView(shape)]), 1).size, 0);
});
