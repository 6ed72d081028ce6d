/**
 * One adversarial step: a discriminator update, then a generator update on
 * the same generated batch (as PyTorch's DCGAN example does).
 *
 * @module
 */

import { valueAndGrad } from "./engine/autograd.ts";
import type { Adam } from "./engine/optim/adam.ts";
import type { Parameter } from "./engine/optim/parameter.ts";
import { add } from "./engine/ops/elementwise.ts";
import { keep, type Tensor } from "./engine/tensor.ts";
import { discriminatorLoss, generatorLoss } from "./losses.ts";
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
  lossD: Tensor;
  lossG: Tensor;
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
}

/**
 * Updates D on `real` against `fake` (which it sees detached); returns D's
 * loss, in the caller's scope.
 */
export function discriminatorUpdate(
  players: Pick<GanPlayers, "discriminator" | "optD">,
  real: Tensor,
  fake: Tensor,
  options: Pick<GanStepOptions, "loss" | "augment"> = {},
): Tensor {
  const { discriminator: D, optD } = players;
  const loss = options.loss ?? "nonsaturating";
  const seen = options.augment ?? ((images: Tensor) => images);
  const ctx = { training: true };
  const dParams = D.parameters();
  const step = valueAndGrad(
    () => discriminatorLoss(loss, D.forward(seen(real), ctx), D.forward(seen(fake), ctx)),
    dParams.map((p) => p.value),
  );
  optD.step(dParams, step.grads);
  for (const g of step.grads) g.dispose();
  return step.value;
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
  let lossD: Tensor | undefined, lossG: Tensor | undefined;
  const generatorStep = valueAndGrad(() => {
    const { fake, extraLoss } = generate(z, ctx);
    // `fake` is not tracked by the discriminator update's inner tape: it sees it detached.
    // D's loss outlives this function's scope; it is handed over below.
    lossD = keep(discriminatorUpdate(players, real, fake, options));

    const adversarial = generatorLoss(loss, D.forward(seen(fake), ctx));
    if (!extraLoss) return adversarial;
    lossG = keep(adversarial);
    return add(adversarial, extraLoss);
  }, gParams.map((p) => p.value));
  optG.step(gParams, generatorStep.grads);
  for (const g of generatorStep.grads) g.dispose();
  const lossDView = lossD!.view(lossD!.shape); // owned by the caller's scope, like lossG
  lossD!.dispose();
  if (!lossG) return { lossD: lossDView, lossG: generatorStep.value };
  const lossGView = lossG.view(lossG.shape);
  lossG.dispose();
  generatorStep.value.dispose();
  return { lossD: lossDView, lossG: lossGView };
}
