/**
 * The generator that samples and export use: an exponential moving average
 * of the trained generator's weights (as StyleGAN and BigGAN sample from),
 * held as a second {@link GanGenerator}, with its batch-norm statistics
 * recomputed for the averaged weights before use (the trained generator's
 * running statistics belong to other weights).
 *
 * @module
 */

import { runUpdate } from "../engine/optim/common.ts";
import { RandomStream } from "../engine/random.ts";
import { empty, scope } from "../engine/tensor.ts";
import type { Parameter } from "../engine/optim/parameter.ts";
import type { GanGenerator } from "./generator.ts";

/** The average's per-step decay for a half-life of `halfLifeImages` at `batch` images a step. */
export function averageDecay(batch: number, halfLifeImages: number): number {
  return 0.5 ** (batch / halfLifeImages);
}

/**
 * average <- decay * average + (1 - decay) * current, parameter by
 * parameter (one fused map each); decay 0 copies `current`.
 */
export function updateAverage(average: GanGenerator, current: GanGenerator, decay: number): void {
  blendParameters(average.parameters(), current.parameters(), decay);
}

/**
 * targets[k] <- decay * targets[k] + (1 - decay) * sources[k] for parameters
 * of the same shapes; decay 0 copies `sources`.
 */
export function blendParameters(targets: Parameter[], sources: Parameter[], decay: number): void {
  scope(() => {
    targets.forEach((target, k) => {
      const next = empty(target.shape);
      runUpdate({
        name: "average_update",
        inputs: [target.value, sources[k].value],
        lets: [],
        outputs: [{ tensor: next, expr: "x1 + s0 * (x0 - x1)" }],
        scalars: [decay],
      });
      target.replace(next);
    });
  });
}

/** How {@link recalibrateNorms} measures: batches of fixed latents. */
export interface Recalibration {
  batches: number;
  batch: number;
  /** Seed of the latents, so that the statistics are a function of the weights. */
  seed: number;
}

/** 8 x 64 latents of seed 0. */
export const DEFAULT_RECALIBRATION: Recalibration = { batches: 8, batch: 64, seed: 0 };

/**
 * Sets every batch norm's running statistics to their mean over a series of
 * training-mode forwards of fixed latents, for the generator's current weights.
 */
export function recalibrateNorms(
  generator: GanGenerator,
  recalibration: Recalibration = DEFAULT_RECALIBRATION,
): void {
  const stream = new RandomStream(recalibration.seed);
  for (let k = 0; k < recalibration.batches; k++) {
    scope(() => {
      const z = stream.normal([recalibration.batch, generator.config.latent]);
      generator.forward(z, { training: true, normMomentum: 1 / (k + 1) });
    });
  }
}
