/**
 * The energy model of Li et al. (AAAI 2022, Sec. 3.3) over the target layer's
 * maps f [N, M, K] (K = H x W positions) given the partition Q:
 *
 *   g_W(f) = 1/(M K) sum_j sum_c W_jc . (f^j * fbar_c),   fbar_c = mean of f^j over q_j = c
 *
 * per image, with the group centres fbar computed per image. The paper
 * writes a plain sum; we average over the M filters and K positions so that
 * g's scale does not grow with the layer's size. With the sum, W's SGD rate
 * of 10 made g_W of a 32-filter 16x16 layer reach 1e4 after one step, the
 * Langevin chains diverged and W reached 1e33 within four interpretability
 * steps (measured on the synthetic faces); with the mean, the paper's rate
 * moves g by O(1) per step. The paper's
 * W_jck is stored at `[k, j, c]` ([K, M, C]) so that the sum over c is one
 * batched matrix product per position. Gradients flow through the centres as
 * well (the paper does not say; letting them flow keeps g_W one function).
 *
 * Also here: the interpretability loss L_interp (Eq. 5), which is linear in
 * W, and its constant gradient.
 *
 * @module
 */

import { matmul } from "../engine/ops/matmul.ts";
import { add, div, mul, sqrt, square } from "../engine/ops/elementwise.ts";
import { permute, reshape } from "../engine/ops/layout.ts";
import { mean, sum } from "../engine/ops/reduce.ts";
import { type Tensor, tensor } from "../engine/tensor.ts";
import { groupSizes } from "../../core/partition.ts";

/**
 * The positions g_W sees: maps [N, M, H, W] averaged over `pool` x `pool`
 * blocks, as [N, M, (H / pool) (W / pool)]. Pooling by 2 hides the 2x2 phase
 * pattern of the stride-2 transposed convolution below the target layer:
 * on the raw positions, the generator raised g_W by giving each group its
 * own phase of that pattern (a checkerboard, no parts) instead of its own
 * region (measured on the synthetic faces).
 */
export function energyPositions(maps: Tensor, pool: number): Tensor {
  const [n, m, h, w] = maps.shape;
  if (pool === 1) return reshape(maps, [n, m, h * w]);
  const blocks = reshape(maps, [n, m, h / pool, pool, w / pool, pool]);
  return reshape(mean(blocks, [3, 5]), [n, m, (h / pool) * (w / pool)]);
}

/**
 * Added to the mean square before the root in {@link rmsNormalize}: a map
 * whose RMS is far below 1e-2 (a filter that is nearly off on that image, as
 * post-ReLU maps of O(1) go) stays near zero instead of being blown up to
 * unit scale with a huge gradient.
 */
export const RMS_FLOOR_SQUARED = 1e-4;

/**
 * Maps [N, M, K] divided by their root mean square over the K positions,
 * per image and filter. g_W is quadratic in the maps' scale, so the
 * generator can raise it by making one group's filters stronger everywhere
 * (without this, one group grew over the whole face on CelebA); on unit-RMS
 * maps only where filters fire can change it.
 */
export function rmsNormalize(maps: Tensor): Tensor {
  const meanSquare = mean(square(maps), 2, true);
  return div(maps, sqrt(add(meanSquare, RMS_FLOOR_SQUARED)));
}

/** A [C, M] matrix whose row c averages the filters of group c (zero row for an empty group). */
export function groupAveraging(assignment: ArrayLike<number>, groups: number): Float32Array {
  const m = assignment.length;
  const sizes = groupSizes(assignment, groups);
  const a = new Float32Array(groups * m);
  for (let j = 0; j < m; j++) a[assignment[j] * m + j] = 1 / sizes[assignment[j]];
  return a;
}

/** Per-image group centres fbar [N, C, K] of maps [N, M, K]; `averaging` is [C, M]. */
export function groupCentres(maps: Tensor, averaging: Tensor): Tensor {
  return matmul(averaging, maps);
}

/** g_W(f) of each image: [N], for maps [N, M, K], W [K, M, C] and averaging [C, M]. */
export function energy(weight: Tensor, maps: Tensor, averaging: Tensor): Tensor {
  const centres = groupCentres(maps, averaging); // [N, C, K]
  // t[k, j, n] = sum_c W[k, j, c] fbar[n, c, k]
  const t = matmul(weight, permute(centres, [2, 1, 0]));
  return mean(mul(t, permute(maps, [2, 1, 0])), [0, 1]);
}

/**
 * Coefficients of L_interp(W) = sum_jck coef_jc W_jck: -1 where q_j = c,
 * lambda1 elsewhere, as [1, M, C] (its gradient, broadcast over positions).
 */
export function interpretabilityCoefficients(
  assignment: ArrayLike<number>,
  groups: number,
  lambda1: number,
): Tensor {
  const m = assignment.length;
  const coef = new Float32Array(m * groups).fill(lambda1);
  for (let j = 0; j < m; j++) coef[j * groups + assignment[j]] = -1;
  return tensor(coef, [1, m, groups]);
}

/** L_interp(W) for W [K, M, C] and coefficients from {@link interpretabilityCoefficients}. */
export function interpretabilityLoss(weight: Tensor, coefficients: Tensor): Tensor {
  return sum(mul(weight, coefficients));
}
