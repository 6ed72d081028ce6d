/**
 * The fixed-pattern penalty: a group's members agree best, for g_W and the
 * GMM's template map alike, when each draws one fixed pattern whatever the
 * latent, and the interpretable runs at width 64 took that way out (see
 * `core/fixed_share.ts`, whose measure this is, on the engine so that it has
 * a gradient).
 *
 * @module
 */

import { add, div, mul, relu, square, sub } from "../engine/ops/elementwise.ts";
import { mean, sum } from "../engine/ops/reduce.ts";
import type { Tensor } from "../engine/tensor.ts";
import { FIXED_SHARE_ENERGY_FLOOR } from "../../core/fixed_share.ts";

/** Each filter's fixed share (`core/fixed_share.ts`) over a batch of maps [N, M, H, W]: [M]. */
export function fixedShare(maps: Tensor): Tensor {
  const fixed = sum(square(mean(maps, 0)), [1, 2]);
  const energy = mean(sum(square(maps), [2, 3]), 0);
  return div(fixed, add(energy, FIXED_SHARE_ENERGY_FLOOR));
}

/**
 * `weight` times the mean over filters of how far each filter's fixed share
 * exceeds `limit` (a scalar): zero for filters that follow the image, rising
 * for those that draw the same on every image.
 */
export function fixedPatternPenalty(maps: Tensor, weight: number, limit: number): Tensor {
  return mul(mean(relu(sub(fixedShare(maps), limit))), weight);
}
