/**
 * Langevin dynamics on the energy model when serving (the paper's Eq. 9 and
 * Fig. 7), with the bundle's `energy.onnx` and the head's VJP:
 *
 *   z <- z + (delta^2 / 2) d/dz [ g_W(f(z)) - |z|^2 / (2 sigma^2) ] + delta U,  U ~ N(0, I)
 *
 * for one image (Fig. 7a), or for a swapped pair (Fig. 7b): both latents
 * move so that the *exchanged* maps become more probable, the gradient
 * reaching each latent through the maps it gives to either swapped image.
 * Noise is drawn from `seed`, so a request is repeatable.
 *
 * @module
 */

import { concatArrays } from "../core/concat.ts";
import { swapMaps, swapRegion } from "../core/swap_maps.js";
import { latentForSeed } from "./latents.ts";
import type { ConceptGroup } from "./manifest.ts";
import type { ServedModel } from "./model.ts";
import type { SwapMode } from "./swap.ts";

/** How a chain runs. */
export interface LangevinSettings {
  steps: number;
  /** delta. */
  stepSize: number;
  /** sigma of the latent prior. */
  priorSigma: number;
  /** Seed of the chain's noise. */
  seed: number;
}

/** The noise U of step `t` for `count` values. */
function noise(seed: number, t: number, count: number): Float32Array {
  return latentForSeed((seed ^ Math.imul(t + 1, 0x9e3779b1)) >>> 0, count, 1);
}

/** One update of latents `z` (in place) from d/dz of the energy term (`energyGrad`), the prior and noise. */
function step(z: Float32Array, energyGrad: Float32Array, s: LangevinSettings, t: number): void {
  const u = noise(s.seed, t, z.length);
  const drift = (s.stepSize * s.stepSize) / 2, prior = 1 / s.priorSigma ** 2;
  for (let k = 0; k < z.length; k++) {
    z[k] += drift * (energyGrad[k] - prior * z[k]) + s.stepSize * u[k];
  }
}

/** d/dz g_W(f(z)) for latents [n, Z]. */
export async function energyGradient(
  model: ServedModel,
  z: Float32Array,
  n: number,
  signal: AbortSignal,
): Promise<Float32Array> {
  const { grad } = await model.energy(await model.maps(z, n, signal), n, signal);
  return await model.headVjp(z, grad, n, signal);
}

/**
 * g_W of both swapped images of the pair z = [target; source] ([2, Z]), and
 * its gradient in z: each image's maps reach its own swapped image where
 * kept and the other one where given away.
 */
export async function pairEnergy(
  model: ServedModel,
  z: Float32Array,
  swap: PairSwap,
  signal: AbortSignal,
): Promise<{ energy: number; grad: Float32Array }> {
  const { channels, height, width } = model.manifest.target;
  const k = height * width, size = channels * k;
  const maps = await model.maps(z, 2, signal);
  const [a, b] = [maps.subarray(0, size), maps.subarray(size)];
  const region = swapRegion(a, b, swap.groups, k);
  // 1 where a swapped image's value comes from the other image.
  const ones = new Float32Array(size).fill(1);
  const mask = swapMaps(new Float32Array(size), ones, swap.groups, k, swap.mode, region);
  const swapped = concatArrays(Float32Array, [
    swapMaps(a, b, swap.groups, k, swap.mode, region),
    swapMaps(b, a, swap.groups, k, swap.mode, region),
  ]);
  const { energy, grad } = await model.energy(swapped, 2, signal);
  const [ga, gb] = [grad.subarray(0, size), grad.subarray(size)];
  const upstream = new Float32Array(2 * size);
  for (let p = 0; p < size; p++) {
    upstream[p] = (1 - mask[p]) * ga[p] + mask[p] * gb[p];
    upstream[size + p] = (1 - mask[p]) * gb[p] + mask[p] * ga[p];
  }
  return { energy: energy[0] + energy[1], grad: await model.headVjp(z, upstream, 2, signal) };
}

/** g_W of the images of latents [n, Z]. */
export async function energyOf(
  model: ServedModel,
  latents: Float32Array,
  n: number,
  signal: AbortSignal,
): Promise<Float32Array> {
  return (await model.energy(await model.maps(latents, n, signal), n, signal)).energy;
}

/** A chain from each of `n` latents [n, Z]; returns the revised latents. */
export async function langevinLatents(
  model: ServedModel,
  latents: Float32Array,
  n: number,
  settings: LangevinSettings,
  signal: AbortSignal,
): Promise<Float32Array> {
  const z = Float32Array.from(latents);
  for (let t = 0; t < settings.steps; t++) {
    step(z, await energyGradient(model, z, n, signal), settings, t);
  }
  return z;
}

/** A pair's swap as {@link langevinPair} sees it: the groups and the swap's mode. */
export interface PairSwap {
  groups: readonly ConceptGroup[];
  mode: SwapMode;
}

/**
 * Fig. 7b: one chain over the target's and the source's latents [Z] each,
 * on g_W of both swapped images; returns the revised latents. Each step
 * recomputes the swap (its region moves with the maps).
 */
export async function langevinPair(
  model: ServedModel,
  target: Float32Array,
  source: Float32Array,
  swap: PairSwap,
  settings: LangevinSettings,
  signal: AbortSignal,
): Promise<{ target: Float32Array; source: Float32Array }> {
  const zSize = target.length;
  const z = concatArrays(Float32Array, [target, source]);
  for (let t = 0; t < settings.steps; t++) {
    step(z, (await pairEnergy(model, z, swap, signal)).grad, settings, t);
  }
  return { target: z.slice(0, zSize), source: z.slice(zSize) };
}
