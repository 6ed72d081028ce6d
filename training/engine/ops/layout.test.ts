import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { valueAndGrad } from "../autograd.ts";
import { backend, initEngine, memoryStats } from "../engine.ts";
import { checkOp, HostRng } from "../testing/harness.ts";
import {
  concatRef,
  gatherRef,
  permuteRef,
  reshapeRef,
  sliceRef,
} from "../testing/reference_layout.ts";
import { liveTensorCount, scope, tensor } from "../tensor.ts";
import { mul } from "./elementwise.ts";
import { sum } from "./reduce.ts";
import { concat, flatten, gather, permute, reshape, slice, transpose } from "./layout.ts";

await initEngine();

/** A shape of `rank` dimensions in 1..7 (mostly not multiples of 4). */
function randomShape(rng: HostRng, rank: number): number[] {
  return Array.from({ length: rank }, () => rng.int(1, 7));
}

/** A uniformly random permutation of 0..rank-1. */
function randomPerm(rng: HostRng, rank: number): number[] {
  const perm = [...Array(rank).keys()];
  for (let k = rank - 1; k > 0; k--) {
    const j = rng.int(0, k);
    [perm[k], perm[j]] = [perm[j], perm[k]];
  }
  return perm;
}

// Layout ops are linear: probing every element checks that gradients land
// exactly where they belong (and are 0 elsewhere).
const probes = 4096;

Deno.test("reshape and flatten match float64, with gradients", async (t) => {
  const rng = new HostRng(31);
  const cases: [number[], number[], number[]][] = [
    [[2, 3, 5], [5, -1], [5, 6]],
    [[7], [1, 7, 1], [1, 7, 1]],
    [[4, 6], [-1], [24]],
    [[3, 1, 5, 2], [6, -1, 1], [6, 5, 1]],
    [[2, 0, 3], [-1, 3], [0, 3]],
    [[1], [], []],
  ];
  for (const [from, to, resolved] of cases) {
    await t.step(`reshape [${from}] -> [${to}]`, async () => {
      await checkOp({
        name: "reshape",
        inputs: [rng.uniform(from)],
        gpu: ([x]) => reshape(x, to),
        reference: ([x]) => reshapeRef(x, resolved),
        probes,
      });
    });
  }
  const flattenCases: [number | undefined, number[]][] = [
    [undefined, [3, 35]],
    [0, [105]],
    [-1, [3, 5, 7]],
    [-2, [3, 35]],
  ];
  for (const [start, resolved] of flattenCases) {
    await t.step(`flatten [3, 5, 7] from ${start ?? "default"}`, async () => {
      await checkOp({
        name: "flatten",
        inputs: [rng.uniform([3, 5, 7])],
        gpu: ([x]) => (start === undefined ? flatten(x) : flatten(x, start)),
        reference: ([x]) => reshapeRef(x, resolved),
        probes,
      });
    });
  }
});

Deno.test("reshape shares storage and outlives the original", async () => {
  const buffersBefore = memoryStats().liveBuffers, tensorsBefore = liveTensorCount();
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const y = reshape(x, [3, -1]);
  deepEqual(y.shape, [3, 2]);
  equal(y.buffer, x.buffer);
  equal(memoryStats().liveBuffers, buffersBefore + 1);
  x.dispose();
  ok(x.disposed);
  deepEqual([...await y.data()], [1, 2, 3, 4, 5, 6]);
  equal(memoryStats().liveBuffers, buffersBefore + 1);
  y.dispose();
  equal(memoryStats().liveBuffers, buffersBefore);
  equal(liveTensorCount(), tensorsBefore);
});

Deno.test("permute matches float64 for random shapes and permutations", async (t) => {
  const rng = new HostRng(32);
  for (let rank = 1; rank <= 5; rank++) {
    for (let trial = 0; trial < 3; trial++) {
      const shape = randomShape(rng, rank), perm = randomPerm(rng, rank);
      // Every other trial spells the permutation with negative axes.
      const spelled = trial % 2 ? perm.map((p) => p - rank) : perm;
      await t.step(`[${shape}] by [${spelled}]`, async () => {
        await checkOp({
          name: "permute",
          inputs: [rng.uniform(shape)],
          gpu: ([x]) => permute(x, spelled),
          reference: ([x]) => permuteRef(x, perm),
          probes,
        });
      });
    }
  }
  await t.step("NCHW -> NHWC [3, 17, 9, 5]", async () => {
    await checkOp({
      name: "permute",
      inputs: [rng.uniform([3, 17, 9, 5])],
      gpu: ([x]) => permute(x, [0, 2, 3, 1]),
      reference: ([x]) => permuteRef(x, [0, 2, 3, 1]),
      probes,
    });
  });
});

Deno.test("transpose swaps two axes, negative axes included", async (t) => {
  const rng = new HostRng(33);
  const cases: [number[], number, number, number[]][] = [
    [[5, 3], 0, 1, [1, 0]],
    [[2, 7, 3], -1, -3, [2, 1, 0]],
    [[4, 1, 6], 1, 1, [0, 1, 2]],
    [[3, 65, 9], 1, 2, [0, 2, 1]],
  ];
  for (const [shape, a, b, perm] of cases) {
    await t.step(`[${shape}] axes ${a}, ${b}`, async () => {
      await checkOp({
        name: "transpose",
        inputs: [rng.uniform(shape)],
        gpu: ([x]) => transpose(x, a, b),
        reference: ([x]) => permuteRef(x, perm),
        probes,
      });
    });
  }
});

Deno.test("slice copies a range along one axis; the gradient is zero outside it", async (t) => {
  const rng = new HostRng(34);
  const cases: [number[], number, number, number][] = [
    [[2, 7, 5, 3], 1, 2, 3], // channel slice of an NCHW map
    [[2, 7, 5, 3], -1, 1, 2],
    [[5, 3], 0, 4, 1],
    [[130], 0, 63, 65],
    [[3, 9, 2], 1, 0, 9], // the whole axis
    [[3, 9, 2], 1, 5, 0], // empty range
  ];
  for (const [shape, axis, start, length] of cases) {
    await t.step(`[${shape}] axis ${axis} from ${start} length ${length}`, async () => {
      const k = axis < 0 ? axis + shape.length : axis;
      await checkOp({
        name: "slice",
        inputs: [rng.uniform(shape)],
        gpu: ([x]) => slice(x, axis, start, length),
        reference: ([x]) => sliceRef(x, k, start, length),
        probes,
      });
    });
  }
});

Deno.test("concat joins along an axis; gradients are slices", async (t) => {
  const rng = new HostRng(35);
  const cases: [number[][], number][] = [
    [[[2, 3, 4], [2, 5, 4]], 1],
    [[[2, 3, 4], [2, 3, 1], [2, 3, 6]], -1],
    [[[1, 5], [4, 5], [2, 5]], 0],
    [[[7]], 0],
    [[[3, 2, 5], [3, 0, 5], [3, 7, 5]], 1], // an empty input
    [[[2, 3, 9, 7], [2, 5, 9, 7]], 1], // NCHW channel concat (odd sizes)
  ];
  for (const [shapes, axis] of cases) {
    await t.step(`${shapes.map((s) => `[${s}]`).join(" ")} axis ${axis}`, async () => {
      const k = axis < 0 ? axis + shapes[0].length : axis;
      await checkOp({
        name: "concat",
        inputs: shapes.map((s) => rng.uniform(s)),
        gpu: (xs) => concat(xs, axis),
        reference: (xs) => concatRef(xs, k),
        probes,
      });
    });
  }
  await t.step("the same tensor twice accumulates both gradients", async () => {
    await checkOp({
      name: "concat [a, a]",
      inputs: [rng.uniform([3, 4])],
      gpu: ([a]) => concat([a, a], 1),
      reference: ([a]) => concatRef([a, a], 1),
      probes,
    });
  });
});

Deno.test("gather picks by index with repeats; the gradient sums repeats", async (t) => {
  const rng = new HostRng(36);
  const cases: [number[], number, number[]][] = [
    [[5, 3, 2], 0, [4, 0, 0, 2]], // reorder and repeat batch items; 1 and 3 unused
    [[2, 7, 3, 3], 1, [6, 1, 1, 1, 3]], // pick channels of an NCHW map
    [[4, 9], -1, [8, 0, 8, 8, 2, 5, 5]],
    [[3, 4], 1, []], // empty index list
    [[6], 0, [5, 4, 3, 2, 1, 0]],
  ];
  for (const [shape, axis, indices] of cases) {
    await t.step(`[${shape}] axis ${axis} at [${indices}]`, async () => {
      const k = axis < 0 ? axis + shape.length : axis;
      await checkOp({
        name: "gather",
        inputs: [rng.uniform(shape)],
        gpu: ([x]) => gather(x, axis, indices),
        reference: ([x]) => gatherRef(x, k, indices),
        probes,
      });
    });
  }
  await t.step("random index lists on random shapes", async () => {
    for (let trial = 0; trial < 6; trial++) {
      const shape = randomShape(rng, rng.int(1, 4));
      const axis = rng.int(0, shape.length - 1);
      const indices = Array.from({ length: rng.int(1, 11) }, () => rng.int(0, shape[axis] - 1));
      await checkOp({
        name: `gather [${shape}] axis ${axis} at [${indices}]`,
        inputs: [rng.uniform(shape)],
        gpu: ([x]) => gather(x, axis, indices),
        reference: ([x]) => gatherRef(x, axis, indices),
        probes,
      });
    }
  });
});

Deno.test("gather compiles no kernel per index list and keeps its own copy of it", async () => {
  const x = tensor(Float32Array.from({ length: 20 }, (_, i) => i), [4, 5]);
  const grad = (indices: number[]) => valueAndGrad(() => sum(gather(x, 1, indices)), [x]);
  // Warm up: compile the kernels of these shapes (sum's are per shape) once.
  scope(() => {
    grad([0, 1, 2]);
  });
  const kernels = backend().kernelCount;
  const indices = [4, 2, 4];
  const { y, grads } = scope(() => {
    const y = gather(x, 1, indices);
    const { grads } = grad([3, 3, 3]);
    return { y, grads };
  });
  indices[0] = 0; // must not affect a gather already recorded
  equal(backend().kernelCount, kernels);
  deepEqual([...await y.data()], [4, 2, 4, 9, 7, 9, 14, 12, 14, 19, 17, 19]);
  deepEqual([...await grads[0].data()], [
    0,
    0,
    0,
    3,
    0,
    0,
    0,
    0,
    3,
    0,
    0,
    0,
    0,
    3,
    0,
    0,
    0,
    0,
    3,
    0,
  ]);
  y.dispose();
  grads[0].dispose();
  x.dispose();
});

Deno.test("a chain of layout ops differentiates end to end without leaking", async () => {
  const rng = new HostRng(37);
  const buffersBefore = memoryStats().liveBuffers, tensorsBefore = liveTensorCount();
  await checkOp({
    name: "chain",
    inputs: [rng.uniform([2, 6, 3, 5]), rng.uniform([2, 1, 5, 3])],
    gpu: ([x, y]) => {
      const nhwc = permute(x, [0, 2, 3, 1]); // [2, 3, 5, 6]
      const joined = concat([slice(nhwc, -1, 1, 4), transpose(y, 1, 3)], -1); // [2, 3, 5, 5]
      return mul(flatten(gather(joined, 0, [1, 0, 1]), 2), 2); // [3, 3, 25]
    },
    reference: ([x, y]) => {
      const nhwc = permuteRef(x, [0, 2, 3, 1]);
      const joined = concatRef([sliceRef(nhwc, 3, 1, 4), permuteRef(y, [0, 3, 2, 1])], 3);
      const picked = gatherRef(joined, 0, [1, 0, 1]);
      const out = reshapeRef(picked, [3, 3, 25]);
      return { shape: out.shape, data: out.data.map((v) => 2 * v) };
    },
    probes,
  });
  equal(liveTensorCount(), tensorsBefore);
  equal(memoryStats().liveBuffers, buffersBefore);
});

Deno.test("bad arguments throw ShapeError with an actionable message", () => {
  const x = tensor(new Float32Array(24), [2, 3, 4]);
  const other = tensor(new Float32Array(10), [2, 5]);
  const cases: [string, () => unknown, RegExp][] = [
    [
      "reshape size",
      () => reshape(x, [5, 5]),
      /^reshape: cannot view \[2, 3, 4\] \(24 elements\) as \[5, 5\] \(25 elements\); the element counts must match\.$/,
    ],
    ["reshape -1 twice", () => reshape(x, [-1, -1]), /has 2 dimensions of -1; at most one/],
    ["reshape -1 not fitting", () => reshape(x, [5, -1]), /24 is not a multiple of .* 5\.$/],
    [
      "reshape bad dim",
      () => reshape(x, [2, 1.5, 8]),
      /dimension 1\.5 in \[2, 1\.5, 8\] is invalid/,
    ],
    [
      "flatten axis",
      () => flatten(x, 3),
      /^flatten: axis 3 is out of range for shape \[2, 3, 4\]; use an integer in \[-3, 2\]\.$/,
    ],
    [
      "permute repeat",
      () => permute(x, [0, 0, 1]),
      /^permute: \[0, 0, 1\] is not a permutation of the 3 axes of \[2, 3, 4\]; list each axis 0\.\.2 exactly once\.$/,
    ],
    ["permute length", () => permute(x, [1, 0]), /^permute: \[1, 0\] is not a permutation/],
    ["permute range", () => permute(x, [0, 1, 3]), /^permute: \[0, 1, 3\] is not a permutation/],
    ["transpose axis", () => transpose(x, 0, -4), /^transpose: axis -4 is out of range/],
    [
      "slice range",
      () => slice(x, 1, 2, 2),
      /^slice: start 2 and length 2 do not fit axis 1 of \[2, 3, 4\] \(size 3\); need .* start \+ length <= 3\.$/,
    ],
    ["slice negative start", () => slice(x, -1, -1, 2), /^slice: start -1 and length 2 do not fit/],
    ["concat empty", () => concat([], 0), /^concat: needs at least one tensor/],
    [
      "concat mismatch",
      () => concat([x, other], 1),
      /^concat: input 1 has shape \[2, 5\], which does not match input 0's \[2, 3, 4\]/,
    ],
    [
      "gather index",
      () => gather(x, 1, [0, 3]),
      /^gather: index 3 \(position 1\) is out of range for axis 1 of \[2, 3, 4\]; indices must be integers in \[0, 2\]\.$/,
    ],
    ["gather fraction", () => gather(x, -1, [0.5]), /^gather: index 0\.5 \(position 0\)/],
    ["gather axis", () => gather(x, 3, [0]), /^gather: axis 3 is out of range/],
  ];
  for (const [what, fn, message] of cases) {
    throws(fn, { name: "ShapeError", message }, what);
  }
  const scalar = tensor([1], []);
  throws(() => slice(scalar, 0, 0, 1), {
    name: "ShapeError",
    message: /a rank-0 tensor has no axes/,
  });
  scalar.dispose();
  other.dispose();
  x.dispose();
});
