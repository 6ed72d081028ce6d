/**
 * The interpretability step of Li et al. (AAAI 2022, Sec. 3.5), run after
 * every T GAN steps, and the state it keeps (W, the partition Q, the number
 * of steps taken, which drives the lambda3 schedule):
 *
 *   1. sample N latents z and read the target layer's maps f_G(z);
 *   2. refit the GMM on them: the partition Q and the group centres;
 *   3. revise the latents by Langevin dynamics on g_W(f_G(z)) - |z|^2 / (2 sigma_0^2);
 *   4. SGD on W: lambda2 (mean dg/dW at the revised latents - at z) + lambda3 dL_interp/dW (Eq. 8);
 *   5. step G (its Adam) on -lambda0 lambda2 mean g_W(f_G(z)).
 *
 * Options the paper leaves open (see InterpretableConfig): the same
 * generator term can also join every GAN step's loss ({@link
 * InterpretabilityModule.generatorLoss}); g_W and the GMM can see the maps
 * averaged over blocks (energyPositions) and scaled to unit RMS
 * (rmsNormalize); L_interp can weigh the other groups by their mean.
 *
 * Everything here runs the generator with inference-mode batch norm: the
 * step plays the paper's frozen G' for the Langevin chains, images stay
 * independent, the running statistics are not disturbed, and it is the
 * generator that the exported model serves.
 *
 * @module
 */

import { valueAndGrad } from "../engine/autograd.ts";
import { add, mul, square, sub } from "../engine/ops/elementwise.ts";
import { mean, sum } from "../engine/ops/reduce.ts";
import type { Adam } from "../engine/optim/adam.ts";
import { Parameter } from "../engine/optim/parameter.ts";
import { SGD } from "../engine/optim/sgd.ts";
import type { RandomStream } from "../engine/random.ts";
import { asyncScope, type Tensor, tensor, zeros } from "../engine/tensor.ts";
import type { InterpretableConfig } from "../config.ts";
import type { GanGenerator } from "../networks/generator.ts";
import {
  energy,
  energyPositions,
  groupAveraging,
  interpretabilityCoefficients,
  interpretabilityLoss,
  rmsNormalize,
} from "./energy.ts";
import { fixedPatternPenalty } from "./fixed_share.ts";
import { fixedFilterCount, fixedShares } from "../../core/fixed_share.ts";
import { fitGmm, type GmmFit } from "./gmm.ts";
import { langevin } from "./langevin.ts";
import { conceptMetrics, type TargetMaps } from "../../core/concepts.ts";

/** Figures of one interpretability step, for the log. */
export interface InterpretabilityReport {
  /** Mean g_W at the sampled latents before the step's W update. */
  energyData: number;
  /** Mean g_W at the Langevin-revised latents. */
  energyModel: number;
  /** L_interp(W) after the update. */
  interpLoss: number;
  lambda3: number;
  gmmLogLikelihood: number;
  /** Filters per group. */
  groupSizes: number[];
  /** Concept consistency of the step's maps under the new partition (see core/concepts.ts). */
  consistency: number;
  /** Concept separation of the step's maps (lower is better). */
  separation: number;
  /** Target filters that draw a fixed pattern on the step's images (`core/fixed_share.ts`). */
  fixedFilters: number;
}

/** Checkpoint name of W. */
export const ENERGY_WEIGHT = "energy.weight";

/** Checkpoint name of the GMM's template maps [C, K]. */
export const GMM_MEANS = "gmm.means";

/** lambda3 after `updates` interpretability steps: exponential decay, then constant. */
export function lambda3At(config: InterpretableConfig, updates: number): number {
  const t = Math.min(updates / config.lambda3DecaySteps, 1);
  return config.lambda3Start * (config.lambda3End / config.lambda3Start) ** t;
}

/**
 * The gradient W's SGD step follows: lambda2 (dg/dW at the revised latents -
 * dg/dW at the sampled ones), Eq. 8 for L_real, plus lambda3 times the
 * constant gradient of the linear L_interp (`coefficients`, broadcast over
 * positions).
 */
export function energyWeightGradient(
  dataGrad: Tensor,
  modelGrad: Tensor,
  coefficients: Tensor,
  lambda2: number,
  lambda3: number,
): Tensor {
  return add(mul(sub(modelGrad, dataGrad), lambda2), mul(coefficients, lambda3));
}

/** W, the partition and the schedule position of an interpretable run. */
export class InterpretabilityModule {
  readonly config: InterpretableConfig;
  /** W, stored [K, M, C]. */
  readonly weight: Parameter;
  /** q_j for each filter; all in group 0 until the first fit. */
  assignment: Int32Array;
  /** Interpretability steps taken. */
  updates = 0;
  /** The last GMM fit (the next refit starts from it), null before the first. */
  gmm: Pick<GmmFit, "means" | "variances" | "weights"> | null = null;
  readonly #sgd: SGD;

  /** For a target layer of `filters` maps of `height` x `width`. */
  constructor(config: InterpretableConfig, [filters, height, width]: readonly number[]) {
    // resolveConfig has checked that the pool divides the maps.
    const pool = config.energyPool;
    const positions = (height / pool) * (width / pool);
    this.config = config;
    this.weight = new Parameter(ENERGY_WEIGHT, zeros([positions, filters, config.groups]));
    this.assignment = new Int32Array(filters);
    this.#sgd = new SGD({ lr: config.energyLr });
  }

  /**
   * One interpretability step (see the module notes) for `generator`, whose
   * head parameters `optG` updates; latents and Langevin noise come from `rng`.
   */
  async step(
    generator: GanGenerator,
    optG: Adam,
    rng: RandomStream,
    seed: number,
  ): Promise<InterpretabilityReport> {
    const c = this.config;
    const [, m, h, w] = generator.targetShape(1);
    const n = c.images;
    const head = (z: Tensor) => generator.head(z, { training: false });
    const maps = (z: Tensor) => this.#energyMaps(head(z));
    return await asyncScope(async () => {
      const z = rng.normal([n, generator.config.latent]);
      const raw = head(z);
      const f = this.#energyMaps(raw);
      const fit = await fitGmm(f, {
        components: c.groups,
        seed: seed + this.updates,
        maxIterations: c.gmmIterations,
        initial: this.gmm ?? undefined,
      });
      this.assignment = fit.assignment;
      this.gmm = { means: fit.means, variances: fit.variances, weights: fit.weights };
      const averaging = tensor(groupAveraging(fit.assignment, c.groups), [c.groups, m]);
      const otherWeight = c.otherGroups === "mean" ? c.lambda1 / (c.groups - 1) : c.lambda1;
      const coefficients = interpretabilityCoefficients(fit.assignment, c.groups, otherWeight);
      const meanEnergy = (zz: Tensor) => mean(energy(this.weight.value, maps(zz), averaging));

      const twoSigmaSq = 2 * c.priorSigma ** 2;
      const zRevised = langevin(
        z,
        (zz) =>
          sub(
            energy(this.weight.value, maps(zz), averaging),
            mul(sum(square(zz), 1), 1 / twoSigmaSq),
          ),
        rng,
        { steps: c.langevinSteps, stepSize: c.langevinStepSize },
      );

      const lambda3 = lambda3At(c, this.updates);
      // The sampled latents' maps are already at hand: only W's gradient is wanted here.
      const data = valueAndGrad(
        () => mean(energy(this.weight.value, f, averaging)),
        [this.weight.value],
      );
      const model = valueAndGrad(() => meanEnergy(zRevised), [this.weight.value]);
      const gradient = energyWeightGradient(
        data.grads[0],
        model.grads[0],
        coefficients,
        c.lambda2W,
        lambda3,
      );
      this.#sgd.step([this.weight], [gradient]);

      const headParams = generator.headParameters();
      // The same term as every GAN step's, here under the updated W and the new partition.
      const gStep = valueAndGrad(
        () => this.generatorLoss(head(z)),
        headParams.map((p) => p.value),
      );
      optG.step(headParams, gStep.grads);
      this.updates++;

      const rawMaps: TargetMaps = { data: await raw.data(), shape: [n, m, h, w] };
      const concepts = conceptMetrics(rawMaps, fit.assignment, c.groups);
      return {
        energyData: await data.value.item(),
        energyModel: await model.value.item(),
        interpLoss: await interpretabilityLoss(this.weight.value, coefficients).item(),
        lambda3,
        gmmLogLikelihood: fit.logLikelihood,
        groupSizes: concepts.groupSizes,
        consistency: concepts.consistency,
        separation: concepts.separation,
        fixedFilters: fixedFilterCount(fixedShares(rawMaps)),
      };
    });
  }

  /**
   * The generator's energy term -lambda0 lambda2G mean g_W(f) for target-layer
   * maps `maps` [N, M, H, W] under the current W and partition, plus the
   * fixed-pattern penalty when `fixedShareWeight` asks for it (a scalar).
   */
  generatorLoss(maps: Tensor): Tensor {
    const c = this.config;
    const m = maps.shape[1];
    const averaging = tensor(groupAveraging(this.assignment, c.groups), [c.groups, m]);
    const g = energy(this.weight.value, this.#energyMaps(maps), averaging);
    const term = mul(mean(g), -c.lambda0 * c.lambda2G);
    if (c.fixedShareWeight === 0) return term;
    return add(term, fixedPatternPenalty(maps, c.fixedShareWeight, c.fixedShareLimit));
  }

  /** What g_W and the GMM see of target-layer maps [N, M, H, W]: [N, M, K]. */
  #energyMaps(maps: Tensor): Tensor {
    const f = energyPositions(maps, this.config.energyPool);
    return this.config.energyNormalize ? rmsNormalize(f) : f;
  }

  /** Frees W. */
  dispose(): void {
    this.weight.dispose();
    this.#sgd.dispose();
  }
}
