/**
 * The filter partition of Li et al. (AAAI 2022, Eq. 2): a spherical Gaussian
 * mixture with C components over the M filters of the target layer, each
 * filter j observed as its post-ReLU maps F_j = [f_1^j, ..., f_N^j] over N
 * images, with f_i^j | (q_j = c) ~ N(mu_c, sigma_c^2 I), mu_c in R^K a
 * template map shared by all images (as the paper writes it).
 *
 * Because the images are independent given the group, the likelihood of a
 * filter needs only its sum map S_j = sum_i f_i^j and its energy
 * Q_j = sum_i |f_i^j|^2:
 *
 *   log P(F_j | c) = -NK/2 log(2 pi sigma_c^2) - (Q_j - 2 mu_c.S_j + N |mu_c|^2) / (2 sigma_c^2)
 *
 * The GPU reduces the N x M x K maps to S and Q and computes the M x C and
 * C x K products of each EM iteration; the host normalises the
 * responsibilities in log space in float64 (the likelihoods of N*K numbers
 * underflow anything else). Empty components are re-seeded with the
 * worst-explained filter; initial means are chosen by k-means++ from the
 * seed (or taken from a previous fit), so a fit is deterministic.
 *
 * @module
 */

import { matmul } from "../engine/ops/matmul.ts";
import { square } from "../engine/ops/elementwise.ts";
import { sum } from "../engine/ops/reduce.ts";
import { reshape } from "../engine/ops/layout.ts";
import { asyncScope, keep, type Tensor, tensor } from "../engine/tensor.ts";
import { hostRandom } from "../../core/host_random.ts";

/** A component with fewer filters than this (soft count) is empty. */
const EMPTY = 1e-3;

/** Smallest mixture weight, so that an emptied component can win filters back. */
const MIN_WEIGHT = 1e-6;

/** Options of {@link fitGmm}. */
export interface GmmOptions {
  /** C, the number of groups. */
  components: number;
  /** Seed of the k-means++ initialisation. */
  seed: number;
  /** Most EM iterations (default 100). */
  maxIterations?: number;
  /** Stop when the log-likelihood gains less than this fraction of itself (default 1e-7). */
  tolerance?: number;
  /**
   * A previous fit to start from instead of k-means++: refits during training
   * start here so that group c keeps its meaning (and W its columns).
   */
  initial?: Pick<GmmFit, "means" | "variances" | "weights">;
}

/** A fitted partition. */
export interface GmmFit {
  /** q_j: the group of each of the M filters (the MAP component). */
  assignment: Int32Array;
  /** mu: [C, K] template maps, row-major. */
  means: Float64Array;
  /** sigma_c^2 per group. */
  variances: Float64Array;
  /** p_c per group. */
  weights: Float64Array;
  /** Log-likelihood of all filters' maps under the fit. */
  logLikelihood: number;
  iterations: number;
  /** Components re-seeded because they lost all their filters. */
  reseeded: number;
}

/** Sum map S [M, K] and energy Q [M] of each filter over the images of `maps` [N, M, K]. */
export async function filterStatistics(
  maps: Tensor,
): Promise<{ sums: Float64Array; energies: Float64Array; images: number }> {
  const [n, m, k] = maps.shape;
  return await asyncScope(async () => {
    const sums = await sum(maps, 0).data();
    const energies = await sum(reshape(square(maps), [n, m * k]), 0).data();
    const perFilter = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      for (let p = 0; p < k; p++) perFilter[j] += energies[j * k + p];
    }
    return { sums: Float64Array.from(sums), energies: perFilter, images: n };
  });
}

/** Fits the mixture to the target-layer maps `maps` [N, M, K] of N images. */
export async function fitGmm(maps: Tensor, options: GmmOptions): Promise<GmmFit> {
  if (maps.rank !== 3) throw new RangeError(`fitGmm needs maps [N, M, K], got [${maps.shape}].`);
  const [, m, k] = maps.shape;
  const c = options.components;
  if (!Number.isInteger(c) || c < 1 || c > m) {
    throw new RangeError(`the mixture needs 1 <= C <= M = ${m} components, got ${c}.`);
  }
  const { sums, energies, images: n } = await filterStatistics(maps);
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-7;

  const sumsGpu = keep(tensor(Float32Array.from(sums), [m, k]));
  try {
    // Every filter's mean squared value: the scale of the variances and their floor.
    const totalVariance = energies.reduce((a, b) => a + b, 0) / (m * n * k);
    const floor = 1e-6 * totalVariance + 1e-12;
    const start = options.initial;
    if (start && (start.means.length !== c * k || start.weights.length !== c)) {
      throw new RangeError(`the initial fit has other sizes than C = ${c}, K = ${k}.`);
    }
    let means = start
      ? Float64Array.from(start.means)
      : initialMeans(sums, m, k, c, n, options.seed);
    const variances = start
      ? start.variances.map((v) => Math.max(v, floor))
      : new Float64Array(c).fill(Math.max(totalVariance, floor));
    // A component whose weight vanished keeps a small prior so it can be re-seeded.
    let weights = start
      ? start.weights.map((w) => Math.max(w, MIN_WEIGHT))
      : new Float64Array(c).fill(1 / c);
    let previous = -Infinity, logLikelihood = -Infinity, iterations = 0, reseeded = 0;
    let resp: Float64Array = new Float64Array(m * c);

    for (iterations = 1; iterations <= maxIterations; iterations++) {
      // E-step: log p_c + log P(F_j | c), normalised per filter in log space.
      const dots = await products(sumsGpu, means, c, k); // [M, C]: mu_c . S_j
      const meanNorms = rowNorms(means, c, k);
      const logJoint = new Float64Array(m * c);
      for (let j = 0; j < m; j++) {
        for (let g = 0; g < c; g++) {
          const residual = energies[j] - 2 * dots[j * c + g] + n * meanNorms[g];
          logJoint[j * c + g] = Math.log(weights[g]) -
            0.5 * n * k * Math.log(2 * Math.PI * variances[g]) -
            residual / (2 * variances[g]);
        }
      }
      logLikelihood = 0;
      for (let j = 0; j < m; j++) {
        const row = logJoint.subarray(j * c, (j + 1) * c);
        const top = Math.max(...row);
        let total = 0;
        for (let g = 0; g < c; g++) total += Math.exp(row[g] - top);
        const logNorm = top + Math.log(total);
        logLikelihood += logNorm;
        for (let g = 0; g < c; g++) resp[j * c + g] = Math.exp(row[g] - logNorm);
      }
      if (Math.abs(logLikelihood - previous) <= tolerance * Math.abs(logLikelihood)) break;
      previous = logLikelihood;

      // M-step; a component left without filters takes the worst-explained filter
      // among those whose own component keeps other members.
      const counts = componentCounts(resp, m, c);
      for (let g = 0; g < c; g++) {
        if (counts[g] >= EMPTY) continue;
        const donor = worstExplained(logJoint, resp, counts, m, c);
        if (donor < 0) continue; // every filter is alone in its component: nothing to move
        resp = reassign(resp, c, donor, g);
        counts.set(componentCounts(resp, m, c));
        reseeded++;
      }
      means = await weightedMeans(sumsGpu, resp, counts, means, m, c, k, n);
      const newDots = await products(sumsGpu, means, c, k);
      const newNorms = rowNorms(means, c, k);
      for (let g = 0; g < c; g++) {
        if (counts[g] < EMPTY) continue; // an empty component keeps its mean and variance
        let residual = 0;
        for (let j = 0; j < m; j++) {
          residual += resp[j * c + g] *
            (energies[j] - 2 * newDots[j * c + g] + n * newNorms[g]);
        }
        variances[g] = Math.max(residual / (n * k * counts[g]), floor);
      }
      weights = counts.map((x) => Math.max(x / m, MIN_WEIGHT));
    }
    if (!Number.isFinite(logLikelihood)) {
      throw new RangeError(
        `the filter GMM's log-likelihood is ${logLikelihood}; the target-layer maps hold ` +
          "non-finite values.",
      );
    }
    const assignment = new Int32Array(m);
    for (let j = 0; j < m; j++) {
      let best = 0;
      for (let g = 1; g < c; g++) if (resp[j * c + g] > resp[j * c + best]) best = g;
      assignment[j] = best;
    }
    return {
      assignment,
      means,
      variances,
      weights,
      logLikelihood,
      iterations: Math.min(iterations, maxIterations),
      reseeded,
    };
  } finally {
    sumsGpu.dispose();
  }
}

/** mu_c . S_j for every filter and component, [M, C] (on the GPU). */
async function products(
  sums: Tensor,
  means: Float64Array,
  c: number,
  k: number,
): Promise<Float64Array> {
  return await asyncScope(async () => {
    const mu = tensor(Float32Array.from(means), [c, k]);
    return Float64Array.from(await matmul(sums, mu, { transposeB: true }).data());
  });
}

/**
 * mu_c = sum_j r_jc S_j / (N sum_j r_jc), [C, K] (on the GPU); an empty
 * component keeps its previous mean.
 */
async function weightedMeans(
  sums: Tensor,
  resp: Float64Array,
  counts: Float64Array,
  previous: Float64Array,
  m: number,
  c: number,
  k: number,
  n: number,
): Promise<Float64Array> {
  // Scale the responsibilities first so the product is already the mean.
  const scaled = new Float32Array(m * c);
  for (let j = 0; j < m; j++) {
    for (let g = 0; g < c; g++) {
      if (counts[g] >= EMPTY) scaled[j * c + g] = resp[j * c + g] / (n * counts[g]);
    }
  }
  const means = await asyncScope(async () => {
    const r = tensor(scaled, [m, c]);
    return Float64Array.from(await matmul(r, sums, { transposeA: true }).data());
  });
  for (let g = 0; g < c; g++) {
    if (counts[g] < EMPTY) means.set(previous.subarray(g * k, (g + 1) * k), g * k);
  }
  return means;
}

/** Soft filter count of each component. */
function componentCounts(resp: Float64Array, m: number, c: number): Float64Array {
  const counts = new Float64Array(c);
  for (let j = 0; j < m; j++) for (let g = 0; g < c; g++) counts[g] += resp[j * c + g];
  return counts;
}

function rowNorms(rows: Float64Array, count: number, length: number): Float64Array {
  const norms = new Float64Array(count);
  for (let r = 0; r < count; r++) {
    for (let p = 0; p < length; p++) norms[r] += rows[r * length + p] ** 2;
  }
  return norms;
}

/**
 * The filter whose best component explains it least, among filters whose
 * component keeps at least one filter's worth of others; -1 if none.
 */
function worstExplained(
  logJoint: Float64Array,
  resp: Float64Array,
  counts: Float64Array,
  m: number,
  c: number,
): number {
  let worst = -1, worstScore = Infinity;
  for (let j = 0; j < m; j++) {
    let own = 0;
    for (let g = 1; g < c; g++) if (resp[j * c + g] > resp[j * c + own]) own = g;
    if (counts[own] - resp[j * c + own] < 1) continue;
    const best = Math.max(...logJoint.subarray(j * c, (j + 1) * c));
    if (best < worstScore) [worst, worstScore] = [j, best];
  }
  return worst;
}

/** Responsibilities with filter `j` moved wholly to component `g`. */
function reassign(resp: Float64Array, c: number, j: number, g: number): Float64Array {
  const next = resp.slice();
  next.fill(0, j * c, (j + 1) * c);
  next[j * c + g] = 1;
  return next;
}

/** k-means++ over the filters' mean maps S_j / N: C starting templates. */
function initialMeans(
  sums: Float64Array,
  m: number,
  k: number,
  c: number,
  n: number,
  seed: number,
): Float64Array {
  const random = hostRandom(seed, 0x6a4);
  const means = new Float64Array(c * k);
  const distance = new Float64Array(m).fill(Infinity);
  let chosen = Math.floor(random() * m);
  for (let g = 0; g < c; g++) {
    for (let p = 0; p < k; p++) means[g * k + p] = sums[chosen * k + p] / n;
    for (let j = 0; j < m; j++) {
      let d = 0;
      for (let p = 0; p < k; p++) d += (sums[j * k + p] / n - means[g * k + p]) ** 2;
      distance[j] = Math.min(distance[j], d);
    }
    const total = distance.reduce((a, b) => a + b, 0);
    if (total === 0) break; // fewer distinct filters than components: the rest stay at 0
    let target = random() * total;
    chosen = m - 1;
    for (let j = 0; j < m; j++) {
      target -= distance[j];
      if (target <= 0) {
        chosen = j;
        break;
      }
    }
  }
  return means;
}
