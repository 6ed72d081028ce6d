import { deepEqual, equal, notDeepEqual } from "node:assert/strict";
import { type ConvSpec, denseView } from "../backend.ts";
import { loadBlas } from "./blas.ts";
import { ConvScratch, LayoutCache, runConv } from "./conv.ts";
import { LoopCache, mapKernel, reduceBuffers, reduceKernel } from "./loops.ts";
import { type LoopRunner, LoopThreads, ONE_THREAD } from "./threads.ts";

/** A shared array of `count` values drawn from a fixed sequence. */
function shared(count: number, seed = 1): Float32Array {
  const array = new Float32Array(new SharedArrayBuffer(count * 4));
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    array[i] = state / 2 ** 30 - 1;
  }
  return array;
}

const copy = (array: Float32Array) => Array.from(array);

/** Keeps the calling thread busy for `ms`, so that the worker takes chunks meanwhile. */
function pause(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
}

Deno.test("work shared with a loop thread gives the one-thread result to the bit", async (t) => {
  const threads = new LoopThreads(1);
  const cache = new LoopCache();
  // Until the worker has loaded (and type-checked) its modules the calling thread takes every
  // chunk itself: wait until it takes part in a task.
  const idle = { kind: "kernel" as const, source: "", arrays: [], scalars: [] };
  for (let waited = 0; threads.workerChunks === 0; waited += 50) {
    if (waited > 120_000) throw new Error("the loop thread never started");
    threads.run(idle, 8, 1 << 20, () => pause(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  /** Asserts that the worker took part in what ran since the last call. */
  let seen = threads.workerChunks;
  const workerTookPart = () => {
    if (threads.workerChunks <= seen) throw new Error("the worker ran no chunk");
    seen = threads.workerChunks;
  };
  // [B, C, H, W] = [8, 16, 32, 32]: 131,072 elements, over the size from which work is shared.
  const shape = [8, 16, 32, 32], count = 8 * 16 * 32 * 32;
  const perChannel = { strides: [0, 1, 0, 0], offset: 0 };

  await t.step("a map with a per-channel operand and a hoisted let", () => {
    const x = shared(count), scale = shared(16, 7);
    const run = (runner: LoopRunner) => {
      const y = shared(count, 99); // garbage that every element must overwrite
      const kernel = mapKernel({
        name: "t",
        shape,
        inputs: [{ buffer: x, view: denseView(shape) }, { buffer: scale, view: perChannel }],
        outputs: [{ buffer: y, view: denseView(shape), expr: "select(v * 0.2, v, v > 0.0)" }],
        lets: [{ name: "k", expr: "x1 * s0" }, { name: "v", expr: "x0 * k + 1.0" }],
        scalars: [0.5],
      });
      const arrays = [x, scale, y], compiled = cache.get(kernel.source);
      runner.run(
        { kind: "kernel", source: kernel.source, arrays, scalars: [0.5] },
        kernel.outer,
        count,
        (lo, hi) => {
          compiled(arrays, [0.5], lo, hi);
          if (runner !== ONE_THREAD) pause(2);
        },
      );
      return copy(y);
    };
    deepEqual(run(threads), run(ONE_THREAD));
    workerTookPart();
  });

  await t.step("a reduction per channel with an epilogue", () => {
    const x = shared(count, 3);
    const run = (runner: LoopRunner) => {
      const sums = shared(32, 5), scaled = shared(16, 6);
      const spec = {
        name: "t",
        shape,
        axes: [0, 2, 3],
        inputs: [{ buffer: x, view: denseView(shape) }],
        outputs: [{ buffer: sums, expr: "x0" }, { buffer: sums, offset: 16, expr: "x0 * x0" }],
        epilogue: { inputs: [], outputs: [{ buffer: scaled, expr: "r1 - r0 * r0" }] },
      };
      const kernel = reduceKernel(spec), compiled = cache.get(kernel.source);
      const arrays = reduceBuffers(spec) as Float32Array[];
      equal(kernel.outer, 16);
      runner.run(
        { kind: "kernel", source: kernel.source, arrays, scalars: [] },
        kernel.outer,
        count,
        (lo, hi) => {
          compiled(arrays, [], lo, hi);
          if (runner !== ONE_THREAD) pause(2);
        },
      );
      return [copy(sums), copy(scaled)];
    };
    deepEqual(run(threads), run(ONE_THREAD));
    workerTookPart();
  });

  await t.step("convolutions' rearrangements, both ways, strided and not", () => {
    const blas = loadBlas();
    // 32 images of 16 x 32 x 32: each rearrangement is a task of 524,288 elements.
    const B = 32, input = B * 16 * 32 * 32;
    for (const [stride, kernelSize, pad] of [[2, 4, 1], [1, 3, 1]]) {
      const OH = Math.floor((32 + 2 * pad - kernelSize) / stride) + 1;
      const geometry = {
        B,
        Cin: 16,
        H: 32,
        W: 32,
        Cout: 8,
        KH: kernelSize,
        KW: kernelSize,
        stride,
        pad,
        OH,
        OW: OH,
      };
      const x = shared(input, 11), w = shared(8 * 16 * kernelSize * kernelSize, 12);
      const dy = shared(B * 8 * OH * OH, 13);
      const run = (runner: LoopRunner) => {
        const layouts = new LayoutCache((n) => shared(n, 0), () => {});
        const scratch = new ConvScratch();
        const y = shared(B * 8 * OH * OH, 14), dx = shared(input, 15);
        const dw = shared(w.length, 16);
        const specs: ConvSpec[] = [
          { kind: "forward", geometry, x, w, y },
          { kind: "data", geometry, dy, w, dx },
          { kind: "weight", geometry, x, dy, dw },
        ];
        for (const spec of specs) runConv(blas, scratch, layouts, spec, runner);
        return [copy(y), copy(dx), copy(dw)];
      };
      const alone = run(ONE_THREAD);
      notDeepEqual(alone[0], alone[1]); // the outputs were written
      deepEqual(run(threads), alone);
    }
    workerTookPart();
  });
  threads.close();
});
