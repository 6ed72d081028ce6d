import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { latentForSeed, latentsForSeeds, MAX_SEED } from "./latents.ts";

Deno.test("a seed always gives the same latent, and different seeds different ones", () => {
  deepEqual(latentForSeed(42, 7), latentForSeed(42, 7));
  ok(latentForSeed(42, 7).some((v, k) => v !== latentForSeed(43, 7)[k]));
  equal(latentForSeed(MAX_SEED, 3).length, 3);
  // Pinned values: a seed names the same image in every version of the API.
  deepEqual(Array.from(latentForSeed(1, 3), (v) => Number(v.toFixed(4))), [
    1.6276,
    -0.1727,
    1.4516,
  ]);
});

Deno.test("latents are standard normal, and truncation scales them", () => {
  const values = Array.from({ length: 200 }, (_, s) => [...latentForSeed(s, 100)]).flat();
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  ok(Math.abs(variance - 1) < 0.03, `variance ${variance}`);
  deepEqual(latentForSeed(9, 5, 0.5), latentForSeed(9, 5).map((v) => v * 0.5));
});

Deno.test("seeds outside 0..2^32-1 are refused", () => {
  for (const seed of [-1, 1.5, MAX_SEED + 1, NaN]) throws(() => latentForSeed(seed, 4), RangeError);
});

Deno.test("latentsForSeeds lays the seeds' latents one after another", () => {
  const both = latentsForSeeds([7, 3], 5);
  equal(both.length, 10);
  deepEqual(both.subarray(0, 5), latentForSeed(7, 5));
  deepEqual(both.subarray(5), latentForSeed(3, 5));
  equal(latentsForSeeds([], 5).length, 0);
});
