/**
 * One adversarial step: a discriminator update, then a generator update on
 * the same generated batch (as PyTorch's DCGAN example does).
 *
 * @module
 */

import { valueAndGrad } from "./engine/autograd.ts";
import type { Adam } from "./engine/optim/adam.ts";
import type { Parameter } from "./engine/optim/parameter.ts";
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

/** Losses of a step (one-element tensors owned by the caller). */
export interface GanLosses {
  lossD: Tensor;
  lossG: Tensor;
}

/** Updates D on `real` and G(z), then G through the updated D, with `loss` (default non-saturating). */
export function ganStep(
  players: GanPlayers,
  real: Tensor,
  z: Tensor,
  loss: GanLoss = "nonsaturating",
): GanLosses {
  const { generator: G, discriminator: D, optG, optD } = players;
  const ctx = { training: true };
  const gParams = G.parameters(), dParams = D.parameters();
  let lossD: Tensor | undefined;
  const generatorStep = valueAndGrad(() => {
    const fake = G.forward(z, ctx);
    // `fake` is not tracked by this inner tape: the discriminator step sees it detached.
    const dStep = valueAndGrad(
      () => discriminatorLoss(loss, D.forward(real, ctx), D.forward(fake, ctx)),
      dParams.map((p) => p.value),
    );
    optD.step(dParams, dStep.grads);
    for (const g of dStep.grads) g.dispose();
    lossD = keep(dStep.value); // outlives this function's scope; handed over below

    return generatorLoss(loss, D.forward(fake, ctx));
  }, gParams.map((p) => p.value));
  optG.step(gParams, generatorStep.grads);
  for (const g of generatorStep.grads) g.dispose();
  const lossDView = lossD!.view(lossD!.shape); // owned by the caller's scope, like lossG
  lossD!.dispose();
  return { lossD: lossDView, lossG: generatorStep.value };
}
