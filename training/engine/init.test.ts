import { deepEqual, ok, throws } from "node:assert/strict";
import { initEngine } from "./engine.ts";
import { computeFans, kaimingNormal, normalInit, uniformInit, xavierUniform } from "./init.ts";
import { RandomStream } from "./random.ts";
import type { Tensor } from "./tensor.ts";

await initEngine();

interface Summary {
  count: number;
  mean: number;
  std: number;
  maxAbs: number;
}

/** Reads, disposes and summarises a draw; checks its shape first. */
async function summarise(t: Tensor, shape: number[]): Promise<Summary> {
  deepEqual(t.shape, shape);
  const values = await t.data();
  t.dispose();
  let sum = 0, sumSquares = 0, maxAbs = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  for (const v of values) {
    sumSquares += (v - mean) ** 2;
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  return { count: values.length, mean, std: Math.sqrt(sumSquares / values.length), maxAbs };
}

// Statistics must fall within 5 standard errors of the formula: deterministic
// seeds make the tests repeatable, the margin keeps them honest about chance.

/** Checks a U(-bound, bound) sample: range, spread and mean. */
function assertUniform(s: Summary, bound: number): void {
  const std = bound / Math.sqrt(3);
  ok(s.maxAbs <= bound && s.maxAbs > 0.999 * bound, `max |w| ${s.maxAbs}, bound ${bound}`);
  // The sample std of a uniform has relative standard error sqrt(0.2 / n).
  ok(Math.abs(s.std / std - 1) < 5 * Math.sqrt(0.2 / s.count), `std ${s.std}, expected ${std}`);
  ok(Math.abs(s.mean) < 5 * std / Math.sqrt(s.count), `mean ${s.mean}`);
}

/** Checks a N(0, std^2) sample. */
function assertNormal(s: Summary, std: number): void {
  ok(Math.abs(s.std / std - 1) < 5 / Math.sqrt(2 * s.count), `std ${s.std}, expected ${std}`);
  ok(Math.abs(s.mean) < 5 * std / Math.sqrt(s.count), `mean ${s.mean}`);
}

Deno.test("fans follow PyTorch for linear and conv weights", () => {
  deepEqual(computeFans([128, 64]), { fanIn: 64, fanOut: 128 });
  deepEqual(computeFans([64, 32, 4, 4]), { fanIn: 512, fanOut: 1024 });
  // ConvTranspose2d [in, out, kh, kw]: PyTorch's fan-in is out * kh * kw.
  deepEqual(computeFans([128, 64, 4, 4]), { fanIn: 1024, fanOut: 2048 });
});

Deno.test("xavierUniform: U(-b, b) with b = gain * sqrt(6 / (fanIn + fanOut))", async (t) => {
  const gen = new RandomStream(1);
  await t.step("linear [512, 256]", async () => {
    const s = await summarise(xavierUniform(gen, [512, 256]), [512, 256]);
    assertUniform(s, Math.sqrt(6 / 768));
  });
  await t.step("conv [64, 32, 4, 4] with gain 2", async () => {
    const s = await summarise(xavierUniform(gen, [64, 32, 4, 4], 2), [64, 32, 4, 4]);
    assertUniform(s, 2 * Math.sqrt(6 / (512 + 1024)));
  });
  await t.step("explicit fans", async () => {
    const s = await summarise(xavierUniform(gen, [100_000], 1, { fanIn: 3, fanOut: 5 }), [
      100_000,
    ]);
    assertUniform(s, Math.sqrt(6 / 8));
  });
});

Deno.test("kaimingNormal: std = sqrt(2 / (1 + a^2)) / sqrt(fan)", async (t) => {
  const gen = new RandomStream(2);
  await t.step("linear [512, 256], ReLU, fan_in", async () => {
    const s = await summarise(kaimingNormal(gen, [512, 256]), [512, 256]);
    assertNormal(s, Math.sqrt(2 / 256));
  });
  await t.step("conv [64, 32, 4, 4], leaky ReLU 0.2, fan_out", async () => {
    const shape = [64, 32, 4, 4];
    const s = await summarise(
      kaimingNormal(gen, shape, { negativeSlope: 0.2, mode: "fan_out" }),
      shape,
    );
    assertNormal(s, Math.sqrt(2 / 1.04) / Math.sqrt(1024));
  });
  await t.step(
    "conv-transpose [128, 64, 4, 4]: PyTorch's fan by default, true fan on request",
    async () => {
      const shape = [128, 64, 4, 4];
      assertNormal(await summarise(kaimingNormal(gen, shape), shape), Math.sqrt(2 / 1024));
      const trueFanIn = 128 * 16;
      assertNormal(
        await summarise(kaimingNormal(gen, shape, { fanIn: trueFanIn }), shape),
        Math.sqrt(2 / trueFanIn),
      );
    },
  );
});

Deno.test("normalInit and uniformInit draw with the given spread", async () => {
  const gen = new RandomStream(3);
  const normal = await summarise(normalInit(gen, [256, 512], 0.02), [256, 512]);
  assertNormal(normal, 0.02);
  const shifted = await summarise(normalInit(gen, [100_000], 0.02, 1), [100_000]);
  assertNormal({ ...shifted, mean: shifted.mean - 1 }, 0.02);
  assertUniform(await summarise(uniformInit(gen, [300, 400], 0.5), [300, 400]), 0.5);
});

Deno.test("initialisers reject bad input with what to do", () => {
  const gen = new RandomStream(4);
  throws(() => xavierUniform(gen, [10]), {
    name: "ShapeError",
    message: "Cannot compute fans of a weight of shape [10]: it needs at least 2 dimensions " +
      "([out, in, ...kernel]); pass fanIn and fanOut explicitly.",
  });
  throws(() => kaimingNormal(gen, [10, 0]), { name: "ShapeError", message: /fanIn .* is 0/ });
  throws(() => kaimingNormal(gen, [10], { fanOut: -1, mode: "fan_out" }), {
    name: "ShapeError",
  });
  throws(() => normalInit(gen, [4], -0.1), { name: "EngineError", message: /std >= 0/ });
  throws(() => uniformInit(gen, [4], 0), {
    name: "EngineError",
    message: "uniformInit needs a finite bound > 0, got 0.",
  });
  throws(() => xavierUniform(gen, [4, 4], -1), { name: "EngineError", message: /gain > 0/ });
  throws(() => kaimingNormal(gen, [4, 4], { negativeSlope: NaN }), { name: "EngineError" });
  deepEqual(gen.state().offset, 0);
});
