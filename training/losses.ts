/**
 * GAN losses on discriminator logits.
 *
 * @module
 */

import { neg, softplus } from "./engine/ops/elementwise.ts";
import { mean } from "./engine/ops/reduce.ts";
import type { Tensor } from "./engine/tensor.ts";

/**
 * Binary cross-entropy of sigmoid(logits) against a constant label, averaged:
 * softplus(-l) for label 1, softplus(l) for label 0 (stable for any logit).
 */
export function bceWithLogits(logits: Tensor, label: 0 | 1): Tensor {
  return mean(softplus(label === 1 ? neg(logits) : logits));
}
