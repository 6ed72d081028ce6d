/**
 * GPU memory accounting: the counters tests read (memoryStats() and
 * liveTensorCount()), the ownership rules of scopes, keep() and dispose(),
 * and a long run of DCGAN training steps that must not grow memory.
 */

import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { sizeClass } from "../training/engine/buffer_pool.ts";
import { backend, initEngine, memoryStats, sync, trimMemory } from "../training/engine/engine.ts";
import { DisposedTensorError } from "../training/engine/errors.ts";
import { add, mul } from "../training/engine/ops/elementwise.ts";
import { sum } from "../training/engine/ops/reduce.ts";
import { Adam } from "../training/engine/optim/adam.ts";
import { RandomStream } from "../training/engine/random.ts";
import {
  asyncScope,
  keep,
  liveTensorCount,
  scope,
  type Tensor,
  tensor,
  zeros,
} from "../training/engine/tensor.ts";
import { ganStep } from "../training/gan_step.ts";
import { GanGenerator } from "../training/networks/generator.ts";
import { GanDiscriminator } from "../training/networks/discriminator.ts";
import { dcgan } from "../training/networks/dcgan.ts";

await initEngine();

/** Live counters: what must come back to where it was when nothing leaks. */
function live() {
  const { liveBuffers, liveBytes } = memoryStats();
  return { liveBuffers, liveBytes, liveTensors: liveTensorCount() };
}

Deno.test("memoryStats() counts live and pooled buffers and bytes, by size class", async (t) => {
  const pool = backend();
  // Start from an empty pool so that every acquisition below is predictable.
  trimMemory();
  pool.resetPeak();
  const base = memoryStats();
  equal(base.pooledBuffers, 0);
  equal(base.pooledBytes, 0);
  equal(base.peakBytes, base.liveBytes);

  await t.step("sizes are rounded up to size classes (256 bytes at least)", () => {
    equal(sizeClass(4), 256);
    equal(sizeClass(256), 256);
    equal(sizeClass(4000), 4096); // 1000 floats
    equal(sizeClass(4100), 5120); // a quarter step above 4096
  });

  const bytes = sizeClass(4000);
  const baseTensors = liveTensorCount();
  const a = zeros([1000]);
  await t.step("a new tensor adds one live buffer of its size class", () => {
    deepEqual(memoryStats(), {
      ...base,
      liveBuffers: base.liveBuffers + 1,
      liveBytes: base.liveBytes + bytes,
      peakBytes: base.liveBytes + bytes,
    });
    equal(liveTensorCount(), baseTensors + 1);
  });

  await t.step("dispose moves the buffer to the pool; the peak stays", () => {
    a.dispose();
    deepEqual(memoryStats(), {
      liveBuffers: base.liveBuffers,
      liveBytes: base.liveBytes,
      pooledBuffers: 1,
      pooledBytes: bytes,
      peakBytes: base.liveBytes + bytes,
    });
  });

  await t.step("a tensor of the same size class reuses the pooled buffer", async () => {
    const b = tensor(new Float32Array(990).fill(2), [990]); // 3960 bytes: same class
    deepEqual(memoryStats(), {
      ...base,
      liveBuffers: base.liveBuffers + 1,
      liveBytes: base.liveBytes + bytes,
      peakBytes: base.liveBytes + bytes, // no new memory
    });
    equal((await b.data())[989], 2, "the recycled buffer holds the new contents");
    b.dispose();
  });

  await t.step("views share storage: the buffer is freed with the last reference", () => {
    const before = live();
    const c = zeros([2, 500]);
    const v = c.view([1000]);
    deepEqual(live(), {
      liveBuffers: before.liveBuffers + 1,
      liveBytes: before.liveBytes + bytes,
      liveTensors: before.liveTensors + 2,
    });
    c.dispose();
    deepEqual(live(), {
      liveBuffers: before.liveBuffers + 1,
      liveBytes: before.liveBytes + bytes,
      liveTensors: before.liveTensors + 1,
    });
    v.dispose();
    deepEqual(live(), before);
  });

  await t.step("trimMemory() destroys pooled buffers, even with work still recorded", async () => {
    zeros([1000]).dispose(); // a recorded clear of a buffer that goes straight to the pool
    trimMemory();
    await sync();
    equal(memoryStats().pooledBuffers, 0);
    equal(memoryStats().pooledBytes, 0);
    equal(memoryStats().liveBuffers, base.liveBuffers);
    equal(liveTensorCount(), baseTensors);
  });
});

Deno.test("scopes, keep() and dispose()", async (t) => {
  await t.step("tensors created in a scope are freed at its end unless returned", async () => {
    const before = live();
    let a!: Tensor, b!: Tensor, c!: Tensor, d!: Tensor;
    const result = scope(() => {
      a = tensor([1, 2, 3]);
      b = add(a, 1);
      c = mul(b, 2);
      d = sum(c);
      // Tensors inside arrays and plain objects are returned too.
      return { total: d, parts: [c] };
    });
    ok(a.disposed && b.disposed, "temporaries are disposed");
    ok(!c.disposed && !d.disposed, "returned tensors live on");
    equal(result.total, d);
    deepEqual(live(), {
      liveBuffers: before.liveBuffers + 2,
      liveBytes: before.liveBytes + 2 * 256,
      liveTensors: before.liveTensors + 2,
    });
    equal(await d.item(), (2 + 3 + 4) * 2);
    c.dispose();
    d.dispose();
    deepEqual(live(), before);
  });

  await t.step("a returned tensor passes to the enclosing scope, which frees it", () => {
    const before = live();
    let inner!: Tensor;
    scope(() => {
      inner = scope(() => add(tensor([1]), 1));
      ok(!inner.disposed, "alive in the outer scope");
    });
    ok(inner.disposed, "freed at the end of the outer scope");
    deepEqual(live(), before);
  });

  await t.step("a scope that throws frees its tensors and rethrows", () => {
    const before = live();
    let a!: Tensor;
    throws(() =>
      scope(() => {
        a = tensor([1, 2]);
        throw new RangeError("boom");
      }), { name: "RangeError", message: "boom" });
    ok(a.disposed);
    deepEqual(live(), before);
  });

  await t.step("asyncScope frees after the awaited work, keeping the result", async () => {
    const before = live();
    let a!: Tensor;
    const value = await asyncScope(async () => {
      a = tensor([4, 5]);
      return await sum(a).item();
    });
    equal(value, 9);
    ok(a.disposed);
    deepEqual(live(), before);
  });

  await t.step("keep() takes a tensor out of every scope; the caller disposes it", async () => {
    const before = live();
    let temp!: Tensor;
    const kept = scope(() =>
      scope(() => {
        temp = tensor([7]);
        return keep(add(temp, 1));
      })
    );
    ok(temp.disposed);
    ok(!kept.disposed, "kept survives both scopes");
    // A later scope that uses it does not free it either.
    scope(() => {
      mul(kept, 2);
    });
    ok(!kept.disposed);
    equal(await kept.item(), 8);
    equal(liveTensorCount(), before.liveTensors + 1);
    kept.dispose();
    deepEqual(live(), before);
  });

  await t.step("using a disposed tensor throws DisposedTensorError naming it", async () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    x.dispose();
    const named = new RegExp(`^Tensor #${x.id} \\[2, 3\\] was already disposed`);
    const expected = (error: unknown) =>
      error instanceof DisposedTensorError && error.name === "DisposedTensorError" &&
      named.test(error.message) && /keep\(\)/.test(error.message);
    throws(() => x.buffer, expected);
    throws(() => add(x, 1), expected);
    throws(() => x.view([6]), expected);
    await rejects(x.data(), expected);
    equal(x.toString(), `Tensor#${x.id}[2, 3] (disposed)`);

    // Freed by the end of its scope rather than by dispose(): the same error.
    const escaped = scope(() => {
      const y = tensor([1, 2]);
      return () => y;
    })();
    throws(() => mul(escaped, 2), {
      name: "DisposedTensorError",
      message: new RegExp(`^Tensor #${escaped.id} \\[2\\] was already disposed .*scope`),
    });
  });

  await t.step("dispose() is idempotent", () => {
    const before = live();
    const x = tensor([1, 2, 3]);
    const pooled = memoryStats().pooledBuffers;
    x.dispose();
    const after = memoryStats();
    equal(after.pooledBuffers, pooled + 1);
    x.dispose();
    x.dispose();
    deepEqual(memoryStats(), after, "the buffer is released once");
    deepEqual(live(), before);

    // Disposed inside a scope, then the scope ends: still counted once.
    scope(() => tensor([1]).dispose());
    deepEqual(live(), before);

    // A view's storage outlives a repeatedly disposed base.
    const base = tensor([1, 2]);
    const view = base.view([2, 1]);
    base.dispose();
    base.dispose();
    equal(memoryStats().liveBuffers, before.liveBuffers + 1);
    view.dispose();
    deepEqual(live(), before);
  });
});

// --- A long run of DCGAN steps ---------------------------------------------------------------

const WIDTH = 2, LATENT = 8, BATCH = 2;
const STEPS = 100, READ_EVERY = 25;

Deno.test(
  `${STEPS} DCGAN training steps (width ${WIDTH}, batch ${BATCH}) do not grow GPU memory`,
  async () => {
    const start = live();
    const gen = new RandomStream(1);
    const G = new GanGenerator(gen, dcgan(WIDTH, LATENT));
    const D = new GanDiscriminator(gen, dcgan(WIDTH, LATENT));
    const players = {
      generator: G,
      discriminator: D,
      optG: new Adam({ lr: 2e-4, beta1: 0.5 }),
      optD: new Adam({ lr: 2e-4, beta1: 0.5 }),
    };
    const real = gen.uniform([BATCH, 3, 64, 64], -1, 1);
    const step = () => scope(() => void ganStep(players, real, gen.normal([BATCH, LATENT])));
    /** A step whose losses are read back (a readback waits for the GPU). */
    const readStep = () =>
      asyncScope(async () => {
        const { lossD, lossG } = ganStep(players, real, gen.normal([BATCH, LATENT]));
        return [await lossD.item(), await lossG.item()];
      });

    // Step 1 creates the Adam moments: everything that stays live exists from then on.
    step();
    await sync();
    const afterFirst = { ...live(), kernels: backend().kernelCount };
    // Step 2 is the first to replace moments, so both generations briefly coexist: the pool
    // and the peak reach their steady size here.
    step();
    await sync();
    const warm = memoryStats();
    deepEqual({ ...live(), kernels: backend().kernelCount }, afterFirst);

    const losses: number[][] = [];
    for (let i = 1; i <= STEPS; i++) {
      if (i % READ_EVERY === 0) losses.push(await readStep());
      else step();
    }
    await sync();
    const end = memoryStats();
    const summary = `after warm-up ${JSON.stringify(warm)}, after ${STEPS} more steps ` +
      `${JSON.stringify(end)}; losses (D, G) every ${READ_EVERY} steps: ${JSON.stringify(losses)}`;
    console.log(summary);
    equal(end.liveBuffers, warm.liveBuffers, `live buffers: ${summary}`);
    equal(end.liveBytes, warm.liveBytes, `live bytes: ${summary}`);
    equal(end.pooledBuffers, warm.pooledBuffers, `pooled buffers: ${summary}`);
    equal(end.pooledBytes, warm.pooledBytes, `pooled bytes: ${summary}`);
    equal(end.peakBytes, warm.peakBytes, `peak bytes: ${summary}`);
    equal(liveTensorCount(), afterFirst.liveTensors, "live tensors");
    equal(backend().kernelCount, afterFirst.kernels, "no kernel is compiled after step 1");
    ok(losses.flat().every(Number.isFinite), `finite losses: ${summary}`);

    // Everything the run created is freed by disposing what owns it.
    for (const d of [G, D, players.optG, players.optD, real]) d.dispose();
    deepEqual(live(), start);
  },
);
