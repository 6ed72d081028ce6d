import { deepEqual, ok } from "node:assert/strict";
import { initEngine } from "../engine/engine.ts";
import { asyncScope, tensor } from "../engine/tensor.ts";
import { checkOp, HostRng, type HostTensor } from "../engine/testing/harness.ts";
import {
  energy,
  energyPositions,
  groupAveraging,
  interpretabilityCoefficients,
  interpretabilityLoss,
  RMS_FLOOR_SQUARED,
  rmsNormalize,
} from "./energy.ts";

await initEngine();

// N images, M filters, C groups, K positions; filter j belongs to ASSIGNMENT[j].
const [N, M, C, K] = [3, 5, 3, 7];
const ASSIGNMENT = [2, 0, 2, 1, 0];

/** g_W(f) in float64: sum_jck W[k, j, c] f[n, j, k] fbar[n, c, k] / (M K). */
function energyRef([w, f]: HostTensor[]): HostTensor {
  const a = groupAveraging(ASSIGNMENT, C);
  const out = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < K; k++) {
        let centre = 0;
        for (let j = 0; j < M; j++) centre += a[c * M + j] * f.data[(n * M + j) * K + k];
        for (let j = 0; j < M; j++) {
          out[n] += w.data[(k * M + j) * C + c] * f.data[(n * M + j) * K + k] * centre;
        }
      }
    }
  }
  return { shape: [N], data: out.map((v) => v / (M * K)) };
}

Deno.test("g_W matches float64 and its gradients (W and maps) match finite differences", async () => {
  const rng = new HostRng(11);
  await checkOp({
    name: "energy",
    inputs: [rng.uniform([K, M, C]), rng.uniform([N, M, K], 0, 1)],
    gpu: ([w, f]) => energy(w, f, tensor(groupAveraging(ASSIGNMENT, C), [C, M])),
    reference: energyRef,
    atol: 1e-4,
    rtol: 1e-3,
  });
});

Deno.test("energyPositions averages p x p blocks (and passes maps through for p = 1)", async (t) => {
  const rng = new HostRng(12);
  const [n, m, h, w] = [2, 3, 6, 4];
  for (const pool of [1, 2]) {
    await t.step(`pool ${pool}`, async () => {
      const [hp, wp] = [h / pool, w / pool];
      await checkOp({
        name: `energyPositions ${pool}`,
        inputs: [rng.uniform([n, m, h, w])],
        gpu: ([f]) => energyPositions(f, pool),
        reference: ([f]) => {
          const out = new Float64Array(n * m * hp * wp);
          for (let i = 0; i < n * m; i++) {
            for (let y = 0; y < h; y++) {
              for (let x = 0; x < w; x++) {
                const block = i * hp * wp + Math.floor(y / pool) * wp + Math.floor(x / pool);
                out[block] += f.data[(i * h + y) * w + x] / (pool * pool);
              }
            }
          }
          return { shape: [n, m, hp * wp], data: out };
        },
      });
    });
  }
});

Deno.test("rmsNormalize scales each map to unit RMS; its gradient matches finite differences", async () => {
  const rng = new HostRng(13);
  const [n, m, k] = [2, 3, 5];
  await checkOp({
    name: "rmsNormalize",
    inputs: [rng.uniform([n, m, k], 0, 2)],
    gpu: ([f]) => rmsNormalize(f),
    reference: ([f]) => {
      const out = new Float64Array(n * m * k);
      for (let i = 0; i < n * m; i++) {
        let meanSquare = 0;
        for (let p = 0; p < k; p++) meanSquare += f.data[i * k + p] ** 2 / k;
        const rms = Math.sqrt(meanSquare + RMS_FLOOR_SQUARED);
        for (let p = 0; p < k; p++) out[i * k + p] = f.data[i * k + p] / rms;
      }
      return { shape: [n, m, k], data: out };
    },
    atol: 1e-4,
    rtol: 1e-3,
  });
  // A map of O(1) gets RMS 1; one nearly off (1e-4 everywhere) is kept near zero by the floor.
  const maps = Float32Array.from({ length: 2 * k }, (_, i) => (i < k ? 0.5 + i : 1e-4));
  const normalized = await asyncScope(async () =>
    await rmsNormalize(tensor(maps, [1, 2, k])).data()
  );
  const rms = (i: number) =>
    Math.sqrt(normalized.subarray(i * k, (i + 1) * k).reduce((a, v) => a + v * v, 0) / k);
  ok(Math.abs(rms(0) - 1) < 1e-3, `a map of O(1) gets RMS 1, got ${rms(0)}`);
  ok(rms(1) < 0.02, `a nearly-off map stays near zero, got RMS ${rms(1)}`);
});

Deno.test("groupAveraging averages each group's members; L_interp rewards own-group weights", async () => {
  const a = groupAveraging(ASSIGNMENT, C);
  deepEqual([...a.subarray(0, M)], [0, 0.5, 0, 0, 0.5]);
  deepEqual([...a.subarray(2 * M, 3 * M)], [0.5, 0, 0.5, 0, 0]);
  await asyncScope(async () => {
    const coef = interpretabilityCoefficients(ASSIGNMENT, C, 2 / 3);
    const own = new Float32Array(K * M * C), other = new Float32Array(K * M * C);
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < M; j++) {
        for (let c = 0; c < C; c++) (c === ASSIGNMENT[j] ? own : other)[(k * M + j) * C + c] = 1;
      }
    }
    const ownLoss = await interpretabilityLoss(tensor(own, [K, M, C]), coef).item();
    const otherLoss = await interpretabilityLoss(tensor(other, [K, M, C]), coef).item();
    ok(Math.abs(ownLoss - -K * M) < 1e-3, `own-group weights: ${ownLoss}`);
    ok(Math.abs(otherLoss - (2 / 3) * K * M * (C - 1)) < 1e-2, `other-group weights: ${otherLoss}`);
  });
});
