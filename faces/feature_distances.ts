/**
 * Distances between two sets of feature vectors (here 128-d face
 * descriptors), as realism measures:
 *
 * - Frechet distance (FID's formula on other features):
 *   |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), in float64, with
 *   the matrix square root's trace from symmetric eigendecompositions;
 * - kernel distance (KID): the unbiased estimate of the squared MMD under the
 *   kernel k(x, y) = (x.y / d + 1)^3, averaged over disjoint blocks of both
 *   sets, with the standard error of that mean.
 *
 * @module
 */

/** A set of n vectors of dimension d, row-major. */
export interface FeatureSet {
  data: Float32Array | Float64Array;
  n: number;
  d: number;
}

/** Mean [d] and unbiased covariance [d, d] of a set. */
export function moments({ data, n, d }: FeatureSet): { mean: Float64Array; cov: Float64Array } {
  if (n < 2) throw new RangeError(`moments need at least 2 vectors, got ${n}.`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += data[i * d + j] / n;
  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) centred[j] = data[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const x = centred[a] / (n - 1);
      for (let b = a; b < d; b++) cov[a * d + b] += x * centred[b];
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) cov[a * d + b] = cov[b * d + a];
  return { mean, cov };
}

/**
 * Eigenvalues and eigenvectors (columns of `vectors`) of a symmetric d x d
 * matrix, by cyclic Jacobi rotations.
 */
export function symmetricEigen(
  matrix: Float64Array,
  d: number,
): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(d * d);
  for (let k = 0; k < d; k++) v[k * d + k] = 1;
  const scale = a.reduce((s, x) => s + x * x, 0);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q] ** 2;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (apq === 0) continue;
        const theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p], akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k], aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p], vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: d }, (_, k) => a[k * d + k]), vectors: v };
}

/** The symmetric square root of a symmetric positive semi-definite matrix. */
function sqrtPsd(matrix: Float64Array, d: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const root = Math.sqrt(Math.max(values[k], 0));
    if (root === 0) continue;
    for (let a = 0; a < d; a++) {
      const x = vectors[a * d + k] * root;
      for (let b = 0; b < d; b++) out[a * d + b] += x * vectors[b * d + k];
    }
  }
  return out;
}

function multiply(x: Float64Array, y: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let a = 0; a < d; a++) {
    for (let k = 0; k < d; k++) {
      const xak = x[a * d + k];
      for (let b = 0; b < d; b++) out[a * d + b] += xak * y[k * d + b];
    }
  }
  return out;
}

/** The Frechet distance between Gaussians of these means and covariances. */
export function frechetDistanceOfMoments(
  a: { mean: Float64Array; cov: Float64Array },
  b: { mean: Float64Array; cov: Float64Array },
): number {
  const d = a.mean.length;
  let meanTerm = 0, traces = 0;
  for (let k = 0; k < d; k++) {
    meanTerm += (a.mean[k] - b.mean[k]) ** 2;
    traces += a.cov[k * d + k] + b.cov[k * d + k];
  }
  // Tr (S_a S_b)^(1/2) = Tr (R S_b R)^(1/2) with R = S_a^(1/2): a symmetric PSD matrix.
  const root = sqrtPsd(a.cov, d);
  const { values } = symmetricEigen(multiply(multiply(root, b.cov, d), root, d), d);
  const crossTrace = values.reduce((s, v) => s + Math.sqrt(Math.max(v, 0)), 0);
  return Math.max(meanTerm + traces - 2 * crossTrace, 0);
}

/** The Frechet distance between two feature sets. */
export function frechetDistance(a: FeatureSet, b: FeatureSet): number {
  if (a.d !== b.d) throw new RangeError(`feature sizes differ: ${a.d} and ${b.d}.`);
  return frechetDistanceOfMoments(moments(a), moments(b));
}

function kernel(x: FeatureSet, i: number, y: FeatureSet, j: number): number {
  let dot = 0;
  for (let k = 0; k < x.d; k++) dot += x.data[i * x.d + k] * y.data[j * y.d + k];
  return (dot / x.d + 1) ** 3;
}

/** The unbiased squared MMD of rows [from, to) of `a` and of `b`. */
function mmdSquared(a: FeatureSet, b: FeatureSet, from: number, to: number): number {
  const m = to - from;
  let kaa = 0, kbb = 0, kab = 0;
  for (let i = from; i < to; i++) {
    for (let j = from; j < to; j++) {
      kab += kernel(a, i, b, j);
      if (j <= i) continue;
      kaa += 2 * kernel(a, i, a, j);
      kbb += 2 * kernel(b, i, b, j);
    }
  }
  return (kaa + kbb) / (m * (m - 1)) - (2 * kab) / (m * m);
}

/** KID and the standard error of its mean over blocks. */
export interface KernelDistance {
  kid: number;
  standardError: number;
  blocks: number;
}

/**
 * The kernel distance of two feature sets: the mean of the unbiased squared
 * MMD over `blocks` disjoint blocks of both sets (the first min(n_a, n_b)
 * vectors of each), with the standard error of that mean.
 */
export function kernelDistance(a: FeatureSet, b: FeatureSet, blocks = 10): KernelDistance {
  if (a.d !== b.d) throw new RangeError(`feature sizes differ: ${a.d} and ${b.d}.`);
  const n = Math.min(a.n, b.n);
  const count = Math.max(1, Math.min(blocks, Math.floor(n / 2)));
  const size = Math.floor(n / count);
  if (size < 2) throw new RangeError(`KID needs at least 2 vectors per set, got ${n}.`);
  const values = Array.from(
    { length: count },
    (_, k) => mmdSquared(a, b, k * size, (k + 1) * size),
  );
  const kid = values.reduce((s, v) => s + v, 0) / count;
  const variance = count > 1
    ? values.reduce((s, v) => s + (v - kid) ** 2, 0) / (count - 1)
    : Number.NaN;
  return { kid, standardError: Math.sqrt(variance / count), blocks: count };
}
