/**
 * One adversarial step: a discriminator update, then a generator update on
 * the same generated batch (as PyTorch's DCGAN example does), with the
 * non-saturating loss.
 *
 * @module
 */

import { valueAndGrad } from "./engine/autograd.ts";
import { add } from "./engine/ops/elementwise.ts";
import type { Adam } from "./engine/optim/adam.ts";
import type { Parameter } from "./engine/optim/parameter.ts";
import { keep, type Tensor } from "./engine/tensor.ts";
import { bceWithLogits } from "./losses.ts";

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

/** Updates D on `real` and G(z), then G through the updated D. */
export function ganStep(players: GanPlayers, real: Tensor, z: Tensor): GanLosses {
  const { generator: G, discriminator: D, optG, optD } = players;
  const ctx = { training: true };
  const gParams = G.parameters(), dParams = D.parameters();
  let lossD: Tensor | undefined;
  const generatorStep = valueAndGrad(() => {
    const fake = G.forward(z, ctx);
    // `fake` is not tracked by this inner tape: the discriminator step sees it detached.
    const dStep = valueAndGrad(
      () => add(bceWithLogits(D.forward(real, ctx), 1), bceWithLogits(D.forward(fake, ctx), 0)),
      dParams.map((p) => p.value),
    );
    optD.step(dParams, dStep.grads);
    for (const g of dStep.grads) g.dispose();
    lossD = keep(dStep.value); // outlives this function's scope; handed over below

    return bceWithLogits(D.forward(fake, ctx), 1);
  }, gParams.map((p) => p.value));
  optG.step(gParams, generatorStep.grads);
  for (const g of generatorStep.grads) g.dispose();
  const lossDView = lossD!.view(lossD!.shape); // owned by the caller's scope, like lossG
  lossD!.dispose();
  return { lossD: lossDView, lossG: generatorStep.value };
}
