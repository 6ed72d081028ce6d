import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { initEngine } from "../engine/engine.ts";
import { asyncScope, tensor } from "../engine/tensor.ts";
import { hostRandom } from "../../core/host_random.ts";
import { fitGmm } from "./gmm.ts";

await initEngine();

/**
 * Maps [N, M, K] of M filters in `groups` planted clusters: each group fires
 * on its own block of positions, every filter with its own noise.
 */
function plantedMaps(n: number, groupOf: number[], k: number, seed: number): Float32Array {
  const random = hostRandom(seed);
  const groups = Math.max(...groupOf) + 1;
  const block = k / groups;
  const maps = new Float32Array(n * groupOf.length * k);
  for (let i = 0; i < n; i++) {
    groupOf.forEach((g, j) => {
      for (let p = 0; p < k; p++) {
        const on = p >= g * block && p < (g + 1) * block;
        maps[(i * groupOf.length + j) * k + p] = Math.max(0, (on ? 1 : 0) + 0.3 * (random() - 0.5));
      }
    });
  }
  return maps;
}

/** True when two partitions are equal up to renaming the groups. */
function samePartition(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  const forward = new Map<number, number>(), backward = new Map<number, number>();
  for (let j = 0; j < a.length; j++) {
    if ((forward.get(a[j]) ?? b[j]) !== b[j] || (backward.get(b[j]) ?? a[j]) !== a[j]) return false;
    forward.set(a[j], b[j]);
    backward.set(b[j], a[j]);
  }
  return true;
}

Deno.test("fitGmm recovers planted filter groups, deterministically for a seed", async () => {
  // 18 filters in 4 groups of unequal size, shuffled.
  const truth = [0, 1, 2, 3, 0, 1, 2, 0, 1, 0, 3, 2, 0, 1, 3, 0, 2, 1];
  await asyncScope(async () => {
    const maps = tensor(plantedMaps(6, truth, 32, 1), [6, truth.length, 32]);
    const fit = await fitGmm(maps, { components: 4, seed: 3 });
    ok(samePartition(fit.assignment, truth), `assignment ${fit.assignment} vs truth ${truth}`);
    equal(fit.means.length, 4 * 32);
    ok(fit.weights.every((w) => w > 0.1), `weights ${fit.weights}`);
    ok(Math.abs(fit.weights.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    ok(Number.isFinite(fit.logLikelihood));
    const again = await fitGmm(maps, { components: 4, seed: 3 });
    deepEqual(again.assignment, fit.assignment);
    equal(again.logLikelihood, fit.logLikelihood);
    // Every seed finds the same partition on clusters this clear.
    for (const seed of [0, 1, 2]) {
      ok(
        samePartition((await fitGmm(maps, { components: 4, seed })).assignment, truth),
        `seed ${seed}`,
      );
    }
  });
});

Deno.test("fitGmm: more components than clusters still gives every filter a group", async () => {
  const truth = [0, 0, 0, 1, 1, 1];
  await asyncScope(async () => {
    const maps = tensor(plantedMaps(4, truth, 16, 2), [4, 6, 16]);
    const fit = await fitGmm(maps, { components: 5, seed: 0 });
    equal(fit.assignment.length, 6);
    ok(fit.assignment.every((g) => g >= 0 && g < 5));
    // Filters of different planted groups never share a component.
    for (let a = 0; a < 3; a++) {
      for (let b = 3; b < 6; b++) ok(fit.assignment[a] !== fit.assignment[b]);
    }
    await rejects(fitGmm(maps, { components: 7, seed: 0 }), RangeError);
  });
});

Deno.test("fitGmm stays finite when components empty out, from a warm start or with C = M", async () => {
  const truth = [0, 0, 1, 1, 2, 2];
  await asyncScope(async () => {
    const maps = tensor(plantedMaps(4, truth, 24, 5), [4, 6, 24]);
    // Every filter alone in its component.
    const alone = await fitGmm(maps, { components: 6, seed: 1 });
    ok(Number.isFinite(alone.logLikelihood));
    equal(new Set(alone.assignment).size, 6);
    // A warm start whose components 1..3 have no weight and far-away means.
    const means = new Float64Array(4 * 24).fill(50);
    means.fill(0.3, 0, 24);
    const start = {
      means,
      variances: new Float64Array(4).fill(0.1),
      weights: new Float64Array([1, 0, 0, 0]),
    };
    const fit = await fitGmm(maps, { components: 4, seed: 0, initial: start });
    ok(Number.isFinite(fit.logLikelihood), `log-likelihood ${fit.logLikelihood}`);
    ok(fit.weights.every(Number.isFinite) && fit.variances.every(Number.isFinite));
    ok(fit.reseeded > 0, "empty components were re-seeded");
    // Four components on three clusters: one may split, but no component mixes clusters.
    for (let a = 0; a < 6; a++) {
      for (let b = 0; b < 6; b++) {
        if (truth[a] !== truth[b]) ok(fit.assignment[a] !== fit.assignment[b], `${fit.assignment}`);
      }
    }
  });
});
