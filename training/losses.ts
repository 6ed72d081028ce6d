/**
 * GAN losses on discriminator logits, each averaged over the batch.
 *
 * @module
 */

import { add, neg, relu } from "./engine/ops/elementwise.ts";
import { mean, meanSoftplus } from "./engine/ops/reduce.ts";
import type { Tensor } from "./engine/tensor.ts";
import type { GanLoss } from "./config.ts";

/**
 * Binary cross-entropy of sigmoid(logits) against a constant label, averaged:
 * softplus(-l) for label 1, softplus(l) for label 0 (stable for any logit).
 */
export function bceWithLogits(logits: Tensor, label: 0 | 1): Tensor {
  return meanSoftplus(logits, label === 1 ? -1 : 1);
}

/** The discriminator's loss: real images should score high, generated ones low. */
export function discriminatorLoss(kind: GanLoss, real: Tensor, fake: Tensor): Tensor {
  if (kind === "hinge") {
    return add(mean(relu(add(neg(real), 1))), mean(relu(add(fake, 1))));
  }
  return add(bceWithLogits(real, 1), bceWithLogits(fake, 0));
}

/**
 * The generator's loss on its images' logits: the non-saturating
 * -log sigmoid(l) (Goodfellow et al. 2014), or hinge GAN's -l.
 */
export function generatorLoss(kind: GanLoss, fake: Tensor): Tensor {
  return kind === "hinge" ? neg(mean(fake)) : bceWithLogits(fake, 1);
}
