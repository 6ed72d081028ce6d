import { deepEqual, equal, notDeepEqual, ok, throws } from "node:assert/strict";
import { getEngine, initEngine } from "./engine.ts";
import { RandomStream } from "./random.ts";
import { assertClose } from "./testing/harness.ts";
import type { Tensor } from "./tensor.ts";

await initEngine();

/** Reads a tensor to the host and disposes it. */
async function take(t: Tensor): Promise<Float32Array> {
  const values = await t.data();
  t.dispose();
  return values;
}

/** Host Philox4x32-10 (Random123's reference algorithm). */
function philox(counter: readonly number[], key: readonly number[]): number[] {
  const mulhilo = (a: number, b: number): [number, number] => {
    const product = BigInt(a) * BigInt(b);
    return [Number(product >> 32n), Number(product & 0xffffffffn)];
  };
  let [c0, c1, c2, c3] = counter;
  let [k0, k1] = key;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + 0x9e3779b9) >>> 0;
      k1 = (k1 + 0xbb67ae85) >>> 0;
    }
    const [hi0, lo0] = mulhilo(0xd2511f53, c0);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

/** The four words of stream block `block` (64-bit counter) for `seed`. */
function blockWords(seed: number, block: number): number[] {
  return philox(
    [block % 2 ** 32, Math.floor(block / 2 ** 32), 0, 0],
    [seed % 2 ** 32, Math.floor(seed / 2 ** 32)],
  );
}

/** Expected uniform [0, 1) value at stream position `p` (exact in f32). */
function hostUniform(seed: number, p: number): number {
  return (blockWords(seed, Math.floor(p / 4))[p % 4] >>> 8) / 2 ** 24;
}

/** Expected standard normal at stream position `p`, in float64. */
function hostNormal(seed: number, p: number): number {
  const words = blockWords(seed, Math.floor(p / 4));
  const pair = p % 4 < 2 ? 0 : 2;
  const u = (Math.fround(words[pair]) + 0.5) / 2 ** 32;
  const theta = Math.PI * ((words[pair + 1] >>> 8) / 2 ** 23 - 1);
  const r = Math.sqrt(-2 * Math.log(u));
  return p % 2 === 0 ? r * Math.cos(theta) : r * Math.sin(theta);
}

function moments(values: Float32Array): { mean: number; std: number } {
  let sum = 0, sumSquares = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  for (const v of values) sumSquares += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sumSquares / values.length) };
}

Deno.test("host Philox4x32-10 matches the Random123 known answers", () => {
  deepEqual(philox([0, 0, 0, 0], [0, 0]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  deepEqual(
    philox([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]),
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  );
  deepEqual(
    philox([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  );
});

Deno.test("GPU draws are the Philox stream", async (t) => {
  await t.step("uniform values are bit-exact", async () => {
    const seed = 2 ** 40 + 12345; // uses both key words
    const values = await take(new RandomStream(seed).uniform([3, 67]));
    deepEqual([...values], Array.from({ length: values.length }, (_, p) => hostUniform(seed, p)));
  });
  await t.step("normal values match Box-Muller in float64", async () => {
    const values = await take(new RandomStream(9).normal([1001]));
    const expected = Array.from({ length: values.length }, (_, p) => hostNormal(9, p));
    assertClose(values, expected, "normal", 1e-5, 1e-5);
  });
  await t.step("the 64-bit block counter carries", async () => {
    const offset = 4 * 2 ** 32 - 6; // straddles block 2^32
    const gen = RandomStream.fromState({ seed: 5, offset });
    const values = await take(gen.uniform([20]));
    deepEqual([...values], Array.from({ length: 20 }, (_, k) => hostUniform(5, offset + k)));
  });
});

Deno.test("a seed determines the values", async () => {
  const a = await take(new RandomStream(42).normal([4096]));
  const b = await take(new RandomStream(42).normal([4096]));
  const c = await take(new RandomStream(43).normal([4096]));
  deepEqual(a, b);
  notDeepEqual(a, c);
  ok(a.some((v, i) => v !== c[i]));
});

Deno.test("consecutive draws continue the stream, whatever their shapes", async () => {
  const gen = new RandomStream(7);
  const parts = [
    await take(gen.uniform([3])),
    await take(gen.normal([2, 5])),
    await take(gen.uniform([1])),
    await take(gen.normal([6])),
    await take(gen.uniform([0])),
  ];
  equal(gen.state().offset, 20);
  const whole = new RandomStream(7);
  const uniform = await take(whole.uniform([20]));
  const normal = await take(RandomStream.fromState({ seed: 7, offset: 0 }).normal([20]));
  deepEqual(parts[0], uniform.slice(0, 3));
  deepEqual(parts[1], normal.slice(3, 13));
  deepEqual(parts[2], uniform.slice(13, 14));
  deepEqual(parts[3], normal.slice(14, 20));
});

Deno.test("a restored state resumes the exact sequence", async () => {
  const gen = new RandomStream(2024);
  await take(gen.normal([37]));
  await take(gen.uniform([5, 5], -2, 3));
  const saved = JSON.parse(JSON.stringify(gen.state()));
  deepEqual(saved, { seed: 2024, offset: 62 });
  const expected = [await take(gen.normal([13], 1, 2)), await take(gen.uniform([9]))];
  const restored = RandomStream.fromState(saved);
  deepEqual([await take(restored.normal([13], 1, 2)), await take(restored.uniform([9]))], expected);
  deepEqual(restored.state(), gen.state());
});

Deno.test("100k normal draws have the requested mean, std and sane tails", async () => {
  const n = 100_000;
  const standard = await take(new RandomStream(1).normal([n]));
  const { mean, std } = moments(standard);
  ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  ok(Math.abs(std - 1) < 0.01, `std ${std}`);
  // P(|z| > 2) = 4.55%, P(|z| > 3) = 0.27%, P(|z| > 4) = 6.3e-5.
  const beyond = (k: number) => standard.filter((v) => Math.abs(v) > k).length / n;
  ok(Math.abs(beyond(2) - 0.0455) < 0.003, `P(|z| > 2) = ${beyond(2)}`);
  ok(Math.abs(beyond(3) - 0.0027) < 0.0008, `P(|z| > 3) = ${beyond(3)}`);
  ok(beyond(4) < 3e-4, `P(|z| > 4) = ${beyond(4)}`);
  ok(standard.every(Number.isFinite) && standard.every((v) => Math.abs(v) < 6.8));

  const shifted = moments(await take(new RandomStream(2).normal([n], -3, 0.25)));
  ok(Math.abs(shifted.mean + 3) < 0.0025, `mean ${shifted.mean}`);
  ok(Math.abs(shifted.std - 0.25) < 0.0025, `std ${shifted.std}`);
  deepEqual([...await take(new RandomStream(3).normal([8], 1.5, 0))], new Array(8).fill(1.5));
});

Deno.test("100k uniform draws fill [low, high) evenly", async () => {
  const n = 100_000, low = -2, high = 3;
  const values = await take(new RandomStream(11).uniform([n], low, high));
  ok(values.every((v) => v >= low && v < high));
  const { mean, std } = moments(values);
  ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  ok(Math.abs(std - 5 / Math.sqrt(12)) < 0.01, `std ${std}`);
  const bins = new Array(10).fill(0);
  for (const v of values) bins[Math.floor((v - low) / 0.5)]++;
  for (const count of bins) ok(Math.abs(count - n / 10) < 400, `bins ${bins}`);
});

Deno.test("uniform stays below high where rounding to f32 would reach it", async () => {
  // Near 1000 the f32 spacing (6.1e-5) is close to the width, so low + width * u
  // often rounds up to high or beyond: the kernel clamps to the last f32 below it.
  const low = 1000, high = 1000.0001;
  const values = await take(new RandomStream(0).uniform([10_000], low, high));
  ok(values.every((v) => v >= low && v < high));
  deepEqual(new Set(values), new Set([1000, Math.fround(1000 + 2 ** -14)]));
});

Deno.test("one kernel per kind, whatever the shape, seed or parameters", async () => {
  const engine = getEngine();
  await take(new RandomStream(1).uniform([3]));
  await take(new RandomStream(1).normal([3]));
  const kernels = engine.backend.kernelCount;
  for (const [seed, shape] of [[2, [7, 9]], [3, [1000]], [2 ** 45, [2, 3, 4]]] as const) {
    const gen = new RandomStream(seed);
    await take(gen.uniform(shape, -seed, 4));
    await take(gen.normal(shape, 3, 0.5));
  }
  equal(engine.backend.kernelCount, kernels);
});

Deno.test("bad arguments throw actionable errors", () => {
  const gen = new RandomStream(1);
  throws(() => new RandomStream(-1), { name: "EngineError", message: /seed must be an integer/ });
  throws(() => new RandomStream(1.5), { name: "EngineError" });
  throws(() => RandomStream.fromState({ seed: 1, offset: -4 }), {
    name: "EngineError",
    message: "RandomStream offset must be an integer in [0, 2^53), got -4.",
  });
  throws(() => gen.normal([2], 0, -1), {
    name: "EngineError",
    message: "normal() needs a finite mean and a finite std >= 0, got mean 0, std -1.",
  });
  throws(() => gen.uniform([2], 1, 1), { name: "EngineError", message: /low < high/ });
  throws(() => gen.uniform([2], 0, Infinity), { name: "EngineError" });
  throws(() => gen.uniform([2.5]), { name: "ShapeError" });
  const nearEnd = RandomStream.fromState({ seed: 1, offset: 2 ** 53 - 3 });
  throws(() => nearEnd.uniform([4]), { name: "EngineError", message: /exhausted/ });
  equal(gen.state().offset, 0);
});
