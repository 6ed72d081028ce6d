/**
 * One adversarial step: a discriminator update, then a generator update on
 * the same generated batch (as PyTorch's DCGAN example does).
 *
 * @module
 */

import { valueAndGrad } from "./engine/autograd.ts";
import type { Adam } from "./engine/optim/adam.ts";
import type { Parameter } from "./engine/optim/parameter.ts";
import { add, mul } from "./engine/ops/elementwise.ts";
import { keep, type Tensor } from "./engine/tensor.ts";
import { discriminatorLoss, generatorLoss, R1_PROBE_STEP, r1Penalty } from "./losses.ts";
import type { GanLoss } from "./config.ts";

/** A network with parameters and a training-mode forward. */
export interface Network {
  forward(x: Tensor, ctx: { training: boolean }): Tensor;
  parameters(): Parameter[];
}

/** The two players and their optimisers. */
export interface GanPlayers {
  generator: Network;
  discriminator: Network;
  optG: Adam;
  optD: Adam;
}

/**
 * How the generator step produces its batch: the images, and optionally a
 * term added to the generator's adversarial loss (the interpretable GAN's
 * energy term on the target layer's maps of the same forward pass).
 */
export type Generate = (z: Tensor, ctx: { training: boolean }) => {
  fake: Tensor;
  extraLoss?: Tensor;
};

/** Losses of a step (one-element tensors owned by the caller). */
export interface GanLosses {
  /** D's loss, its R1 penalty included. */
  lossD: Tensor;
  lossG: Tensor;
  /** D's R1 penalty, when the step took one. */
  r1?: Tensor;
}

/** The R1 penalty of a discriminator update ({@link r1Penalty}). */
export interface R1Options {
  /** gamma, its weight. */
  gamma: number;
  /** The probe directions n ~ N(0, I), shaped like the real batch. */
  directions: Tensor;
}

/** A discriminator update's losses (one-element tensors). */
export interface DiscriminatorLosses {
  /** D's loss, its R1 penalty included. */
  loss: Tensor;
  /** The R1 penalty, when `r1` was given. */
  r1?: Tensor;
}

/** How a step is taken; every field has a default. */
export interface GanStepOptions {
  /** The GAN loss (default non-saturating). */
  loss?: GanLoss;
  /** The generator's batch and extra loss (default `G.forward`, no extra loss). */
  generate?: Generate;
  /**
   * Applied to every batch the discriminator sees, real and generated, on
   * the tape (DiffAugment); called once per batch, so each gets fresh draws.
   */
  augment?: (images: Tensor) => Tensor;
  /** An R1 penalty on D's real images (none when absent). */
  r1?: R1Options;
}

/**
 * Updates D on `real` against `fake` (which it sees detached), with the R1
 * penalty on `real` if asked; returns D's losses, in the caller's scope.
 */
export function discriminatorUpdate(
  players: Pick<GanPlayers, "discriminator" | "optD">,
  real: Tensor,
  fake: Tensor,
  options: Pick<GanStepOptions, "loss" | "augment" | "r1"> = {},
): DiscriminatorLosses {
  const { discriminator: D, optD } = players;
  const loss = options.loss ?? "nonsaturating";
  const seen = options.augment ?? ((images: Tensor) => images);
  const ctx = { training: true };
  const dParams = D.parameters();
  let r1: Tensor | undefined;
  const step = valueAndGrad(
    () => {
      const realSeen = seen(real);
      const realLogits = D.forward(realSeen, ctx);
      const adversarial = discriminatorLoss(loss, realLogits, D.forward(seen(fake), ctx));
      if (!options.r1) return adversarial;
      const { gamma, directions } = options.r1;
      const probed = D.forward(add(realSeen, mul(directions, R1_PROBE_STEP)), ctx);
      // The penalty outlives the tape's scope; it is handed over below.
      r1 = keep(r1Penalty(realLogits, probed, gamma));
      return add(adversarial, r1);
    },
    dParams.map((p) => p.value),
  );
  optD.step(dParams, step.grads);
  for (const g of step.grads) g.dispose();
  if (!r1) return { loss: step.value };
  return { loss: step.value, r1: handOver(r1) };
}

/**
 * Updates D on `real` and G(z), then G through the updated D. The returned
 * `lossG` is the adversarial loss alone, without `generate`'s extra term.
 */
export function ganStep(
  players: GanPlayers,
  real: Tensor,
  z: Tensor,
  options: GanStepOptions = {},
): GanLosses {
  const { generator: G, discriminator: D, optG } = players;
  const loss = options.loss ?? "nonsaturating";
  const generate: Generate = options.generate ?? ((zz, ctx) => ({ fake: G.forward(zz, ctx) }));
  const seen = options.augment ?? ((images: Tensor) => images);
  const ctx = { training: true };
  const gParams = G.parameters();
  let lossD: Tensor | undefined, lossG: Tensor | undefined, r1: Tensor | undefined;
  const generatorStep = valueAndGrad(() => {
    const { fake, extraLoss } = generate(z, ctx);
    // `fake` is not tracked by the discriminator update's inner tape: it sees it detached.
    // D's loss outlives this function's scope; it is handed over below.
    const dLosses = discriminatorUpdate(players, real, fake, options);
    lossD = keep(dLosses.loss);
    if (dLosses.r1) r1 = keep(dLosses.r1);

    const adversarial = generatorLoss(loss, D.forward(seen(fake), ctx));
    if (!extraLoss) return adversarial;
    lossG = keep(adversarial);
    return add(adversarial, extraLoss);
  }, gParams.map((p) => p.value));
  optG.step(gParams, generatorStep.grads);
  for (const g of generatorStep.grads) g.dispose();
  const losses: GanLosses = { lossD: handOver(lossD!), lossG: generatorStep.value };
  if (r1) losses.r1 = handOver(r1);
  if (lossG) {
    losses.lossG = handOver(lossG);
    generatorStep.value.dispose();
  }
  return losses;
}

/** A view of a kept tensor owned by the caller's scope; the kept one is released. */
function handOver(kept: Tensor): Tensor {
  const view = kept.view(kept.shape);
  kept.dispose();
  return view;
}
