/**
 * Deterministic latents: a seed always gives the same z, on every machine
 * and in every version of this format, so that a URL names one image.
 *
 * z_i ~ N(0, 1) by the Box-Muller transform of mulberry32 uniforms seeded
 * from the seed (`hostRandom(seed)`), then scaled by the truncation psi in
 * (0, 1]: psi < 1 pulls latents towards the mean of the prior, trading
 * variety for typicality (the truncation trick of BigGAN, in its scaling
 * form).
 *
 * @module
 */

import { hostRandom } from "../core/host_random.ts";

/** The largest seed: seeds are unsigned 32-bit integers. */
export const MAX_SEED = 2 ** 32 - 1;

/** The latent of `seed`, of length `size`, scaled by `truncation`. */
export function latentForSeed(seed: number, size: number, truncation = 1): Float32Array {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`seed must be an integer in [0, ${MAX_SEED}], got ${seed}.`);
  }
  const uniform = hostRandom(seed);
  const z = new Float32Array(size);
  for (let k = 0; k < size; k += 2) {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    z[k] = radius * Math.cos(angle) * truncation;
    if (k + 1 < size) z[k + 1] = radius * Math.sin(angle) * truncation;
  }
  return z;
}

/** The latents of `seeds`, one after another: `[seeds.length, size]`, row-major. */
export function latentsForSeeds(seeds: readonly number[], size: number): Float32Array {
  const out = new Float32Array(seeds.length * size);
  seeds.forEach((seed, i) => out.set(latentForSeed(seed, size), i * size));
  return out;
}
