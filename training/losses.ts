/**
 * GAN losses on discriminator logits, each averaged over the batch.
 *
 * @module
 */

import { add, mul, neg, relu, square, sub } from "./engine/ops/elementwise.ts";
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

/**
 * The step along the probe direction of {@link r1Penalty}'s finite
 * difference, in pixel units (images span [-1, 1]). The CelebA baseline's
 * discriminator is linear at this scale (its estimate of E |grad|^2 moves
 * 342 -> 338 -> 366 from steps of 0.0003 to 0.003, but reads 851 at 0.01),
 * and f32 logits still resolve the difference.
 */
export const R1_PROBE_STEP = 0.001;

/**
 * R1 (Mescheder et al. 2018), gamma / 2 * E ||grad_x D(x)||^2 on real images,
 * estimated from first derivatives only (the engine records no gradients of
 * gradients): for a direction n ~ N(0, I), E[(grad . n)^2] = ||grad||^2, and
 * grad . n is (D(x + h n) - D(x)) / h to first order, with h
 * {@link R1_PROBE_STEP}. `real` are D's logits on the images, `probed` its
 * logits on the images moved by h n; one direction per image.
 */
export function r1Penalty(real: Tensor, probed: Tensor, gamma: number): Tensor {
  return mul(mean(square(sub(probed, real))), gamma / (2 * R1_PROBE_STEP * R1_PROBE_STEP));
}
