/**
 * Langevin dynamics in latent space (Li et al., Eq. 9, read as the gradient
 * of the log density): z <- z + (delta^2 / 2) d/dz log p(z) + delta U,
 * U ~ N(0, I), for a log density given per image.
 *
 * @module
 */

import { valueAndGrad } from "../engine/autograd.ts";
import { add, mul } from "../engine/ops/elementwise.ts";
import { sum } from "../engine/ops/reduce.ts";
import type { RandomStream } from "../engine/random.ts";
import { keep, scope, type Tensor } from "../engine/tensor.ts";

/** Settings of a Langevin chain. */
export interface LangevinOptions {
  /** Number of updates. */
  steps: number;
  /** delta: the noise scale; the drift is delta^2 / 2 times the gradient. */
  stepSize: number;
}

/**
 * Runs a chain from `z` [N, Z] on `logDensity` (z -> [N], one value per
 * image, each depending only on its own row) and returns the revised latents
 * (owned by the caller's scope). Noise comes from `noise`.
 */
export function langevin(
  z: Tensor,
  logDensity: (z: Tensor) => Tensor,
  noise: RandomStream,
  options: LangevinOptions,
): Tensor {
  const { steps, stepSize } = options;
  let current = z;
  for (let t = 0; t < steps; t++) {
    const previous = current;
    current = keep(scope(() => {
      // Rows are independent, so the gradient of the sum is each row's own gradient.
      const { grads: [gradient] } = valueAndGrad(() => sum(logDensity(previous)), [previous]);
      return add(
        add(previous, mul(gradient, (stepSize * stepSize) / 2)),
        mul(noise.normal(previous.shape), stepSize),
      );
    }));
    if (previous !== z) previous.dispose();
  }
  // Hand the result to the caller's scope like any op's output.
  const result = current.view(current.shape);
  if (current !== z) current.dispose();
  return result;
}
