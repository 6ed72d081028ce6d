import { ok } from "node:assert/strict";
import {
  type FeatureSet,
  frechetDistance,
  frechetDistanceOfMoments,
  kernelDistance,
  symmetricEigen,
} from "./feature_distances.ts";
import { mulberry32 } from "../core/host_random.ts";

/** n draws of N(mean, diag(sd^2)) in d dimensions. */
function gaussian(n: number, mean: number[], sd: number[], seed: number): FeatureSet {
  const d = mean.length, uniform = mulberry32(seed), data = new Float64Array(n * d);
  for (let k = 0; k < n * d; k++) {
    const z = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    data[k] = mean[k % d] + sd[k % d] * z;
  }
  return { data, n, d };
}

const close = (a: number, b: number, tol: number, what: string) =>
  ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

Deno.test("symmetricEigen reconstructs the matrix", () => {
  const d = 6, random = mulberry32(3), x = new Float64Array(d * d);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) x[a * d + b] = x[b * d + a] = random() - 0.5;
  }
  const { values, vectors } = symmetricEigen(x, d);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < d; b++) {
      let sum = 0;
      for (let k = 0; k < d; k++) sum += vectors[a * d + k] * values[k] * vectors[b * d + k];
      close(sum, x[a * d + b], 1e-10, `entry ${a},${b}`);
    }
  }
});

Deno.test("Frechet distance: 0 from a set to itself, the closed form on Gaussians", () => {
  const set = gaussian(400, [0, 1, 2, 3, 4], [1, 2, 0.5, 1, 3], 1);
  close(frechetDistance(set, set), 0, 1e-8, "FD(set, set)");
  // Diagonal covariances: |mu_a - mu_b|^2 + sum (sd_a - sd_b)^2.
  const d = 3,
    diag = (v: number[]) => {
      const m = new Float64Array(d * d);
      v.forEach((x, k) => (m[k * d + k] = x * x));
      return m;
    };
  const fd = frechetDistanceOfMoments(
    { mean: Float64Array.from([0, 0, 1]), cov: diag([1, 2, 3]) },
    { mean: Float64Array.from([1, 0, 3]), cov: diag([2, 2, 1]) },
  );
  close(fd, 1 + 4 + 1 + 0 + 4, 1e-9, "closed form");
  // Samples approach it: N(0, I) against N(mu, 4I) in 4 dimensions, 1 + 4 x (2 - 1)^2 = 5.
  const sampled = frechetDistance(
    gaussian(20000, [0, 0, 0, 0], [1, 1, 1, 1], 2),
    gaussian(20000, [1, 0, 0, 0], [2, 2, 2, 2], 3),
  );
  close(sampled, 5, 0.15, "sampled FD");
});

Deno.test("KID is unbiased on known Gaussians and grows with their distance", () => {
  // Two samples of one distribution: the estimates average to 0 (a biased one would be > 0).
  const same: number[] = [];
  for (let r = 0; r < 60; r++) {
    const { kid } = kernelDistance(
      gaussian(60, [0, 0, 0], [1, 1, 1], 100 + r),
      gaussian(60, [0, 0, 0], [1, 1, 1], 500 + r),
      3,
    );
    same.push(kid);
  }
  const mean = same.reduce((s, v) => s + v, 0) / same.length;
  const se = Math.sqrt(same.reduce((s, v) => s + (v - mean) ** 2, 0) / (same.length - 1)) /
    Math.sqrt(same.length);
  ok(Math.abs(mean) < 3 * se, `mean KID of equal distributions ${mean} (standard error ${se})`);
  const far = kernelDistance(
    gaussian(300, [0, 0, 0], [1, 1, 1], 7),
    gaussian(300, [1.5, 0, 0], [1, 1, 1], 8),
  );
  ok(far.kid > 5 * far.standardError, `KID ${far.kid} +- ${far.standardError}`);
  ok(far.blocks === 10);
});
