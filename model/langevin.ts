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

import { swapMaps, swapRegion } from "../core/swap_maps.js";
import { latentForSeed } from "./latents.ts";
import type { ConceptGroup } from "./manifest.ts";
import type { ServedModel } from "./model.ts";
import { noGradientsError } from "./sessions.ts";
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

/**
 * A chain's settings on `model`: the steps and step size asked for, else
 * those it trained with. Throws a `NoGradientsError` naming the part the
 * bundle lacks (its VJPs, or its energy model).
 */
export function langevinSettings(
  model: ServedModel,
  asked: { steps?: number; stepSize?: number; seed: number },
): LangevinSettings {
  const trained = model.manifest.energy;
  if (!model.hasGradients) throw noGradientsError("vjp");
  if (!trained || !model.hasEnergy) throw noGradientsError("energy");
  return {
    steps: asked.steps ?? trained.steps,
    stepSize: asked.stepSize ?? trained.stepSize,
    priorSigma: trained.priorSigma,
    seed: asked.seed,
  };
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
 * g_W of both swapped images of each of `pairs` pairs, z = [targets; sources]
 * ([2 pairs, Z]: target i is row i, its source row pairs + i), summed, and
 * its gradient in z: each image's maps reach its own swapped image where
 * kept and the other one where given away.
 */
export async function pairEnergy(
  model: ServedModel,
  z: Float32Array,
  pairs: number,
  swap: PairSwap,
  signal: AbortSignal,
): Promise<{ energy: number; grad: Float32Array }> {
  const { channels, height, width } = model.manifest.target;
  const k = height * width, size = channels * k, rows = 2 * pairs;
  const maps = await model.maps(z, rows, signal);
  const row = (r: number) => maps.subarray(r * size, (r + 1) * size);
  const ones = new Float32Array(size).fill(1);
  const masks: Float32Array[] = [], swapped = new Float32Array(rows * size);
  for (let i = 0; i < pairs; i++) {
    const [a, b] = [row(i), row(pairs + i)];
    const region = swapRegion(a, b, swap.groups, k, swap.mode);
    // 1 where a swapped image's value comes from the other image.
    masks.push(swapMaps(new Float32Array(size), ones, swap.groups, k, swap.mode, region));
    swapped.set(swapMaps(a, b, swap.groups, k, swap.mode, region), i * size);
    swapped.set(swapMaps(b, a, swap.groups, k, swap.mode, region), (pairs + i) * size);
  }
  const { energy, grad } = await model.energy(swapped, rows, signal);
  const upstream = new Float32Array(rows * size);
  for (let i = 0; i < pairs; i++) {
    const mask = masks[i], ga = i * size, gb = (pairs + i) * size;
    for (let p = 0; p < size; p++) {
      upstream[ga + p] = (1 - mask[p]) * grad[ga + p] + mask[p] * grad[gb + p];
      upstream[gb + p] = (1 - mask[p]) * grad[gb + p] + mask[p] * grad[ga + p];
    }
  }
  return {
    energy: energy.reduce((sum, v) => sum + v, 0),
    grad: await model.headVjp(z, upstream, rows, signal),
  };
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

/** A pair's swap as {@link langevinPairs} sees it: the groups and the swap's mode. */
export interface PairSwap {
  groups: readonly ConceptGroup[];
  mode: SwapMode;
}

/**
 * Fig. 7b: one chain over the latents of `pairs` pairs (`z` = [targets;
 * sources], [2 pairs, Z]) on g_W of the swapped images; returns the revised
 * latents, in the same layout. Each step recomputes the swaps (their
 * regions move with the maps).
 */
export async function langevinPairs(
  model: ServedModel,
  latents: Float32Array,
  pairs: number,
  swap: PairSwap,
  settings: LangevinSettings,
  signal: AbortSignal,
): Promise<Float32Array> {
  const z = Float32Array.from(latents);
  for (let t = 0; t < settings.steps; t++) {
    step(z, (await pairEnergy(model, z, pairs, swap, signal)).grad, settings, t);
  }
  return z;
}
