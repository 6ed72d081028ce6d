import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { TINY_NETWORK } from "../testing/tiny_run.ts";
import { valueAndGrad } from "../engine/autograd.ts";
import { initEngine } from "../engine/engine.ts";
import { mul, square, sub } from "../engine/ops/elementwise.ts";
import { reshape } from "../engine/ops/layout.ts";
import { mean, sum } from "../engine/ops/reduce.ts";
import { Adam } from "../engine/optim/adam.ts";
import { RandomStream } from "../engine/random.ts";
import { asyncScope, scope, type Tensor, tensor } from "../engine/tensor.ts";
import {
  ConfigError,
  DEFAULT_INTERPRETABLE,
  type InterpretableConfig,
  resolveConfig,
} from "../config.ts";
import { GanGenerator } from "../networks/generator.ts";
import {
  energy,
  energyPositions,
  groupAveraging,
  interpretabilityCoefficients,
  rmsNormalize,
} from "./energy.ts";
import { fixedPatternPenalty } from "./fixed_share.ts";
import { langevin } from "./langevin.ts";
import { energyWeightGradient, InterpretabilityModule, lambda3At } from "./module.ts";

await initEngine();

const CONFIG: InterpretableConfig = {
  ...DEFAULT_INTERPRETABLE,
  groups: 3,
  images: 6,
  langevinSteps: 4,
};
const [M, K] = [8, 16 * 16];

/** Eight filters in three groups. */
const ASSIGNMENT = [0, 1, 2, 0, 1, 2, 0, 1];

/** The target layer's inference-mode maps as [N, M, K]. */
const targetMaps = (G: GanGenerator, z: Tensor) =>
  reshape(G.head(z, { training: false }), [z.shape[0], M, K]);

/** A generator whose running batch-norm statistics fit its activations (as after training). */
function warmGenerator(seed: number): GanGenerator {
  const gen = new RandomStream(seed);
  const G = new GanGenerator(gen, TINY_NETWORK);
  for (let t = 0; t < 40; t++) {
    scope(() => void G.head(gen.normal([16, TINY_NETWORK.latent]), { training: true }));
  }
  return G;
}

Deno.test("lambda3 decays exponentially from its start to its end, then stays", () => {
  equal(lambda3At(CONFIG, 0), 3e-2);
  ok(Math.abs(lambda3At(CONFIG, 250) - Math.sqrt(3e-2 * 3e-6)) < 1e-12);
  ok(Math.abs(lambda3At(CONFIG, 500) - 3e-6) < 1e-15);
  ok(Math.abs(lambda3At(CONFIG, 5000) - 3e-6) < 1e-15);
});

Deno.test("Langevin steps raise g_W(f_G(z)) - |z|^2/(2 sigma^2) on average", async () => {
  const gen = new RandomStream(21);
  const G = warmGenerator(21);
  try {
    await asyncScope(async () => {
      const n = 16;
      const averaging = tensor(groupAveraging(ASSIGNMENT, 3), [3, M]);
      const w = gen.normal([K, M, 3], 1e4, 2e3);
      const logDensity = (z: Tensor) =>
        sub(energy(w, targetMaps(G, z), averaging), mul(sum(square(z), 1), 0.5));
      const z = gen.normal([n, TINY_NETWORK.latent]);
      const before = await mean(logDensity(z)).item();
      const revised = langevin(z, logDensity, new RandomStream(5), { steps: 20, stepSize: 0.1 });
      const after = await mean(logDensity(revised)).item();
      ok(after > before, `mean log density ${before.toFixed(3)} -> ${after.toFixed(3)}`);
      equal(revised.shape.join(), z.shape.join());
    });
  } finally {
    G.dispose();
  }
});

Deno.test("an interpretability step moves W the way L_interp asks and updates only G's head", async () => {
  const G = warmGenerator(3);
  const optG = new Adam({ lr: 1e-3 });
  // lambda2W = 0 isolates the L_interp term of the W update.
  const module = new InterpretabilityModule({ ...CONFIG, lambda2W: 0 }, [M, 16, 16]);
  try {
    const rgbBefore = await G.parameters().at(-1)!.value.data();
    const headBefore = await G.headParameters()[0].value.data();
    const report = await module.step(G, optG, new RandomStream(9), 0);
    equal(module.updates, 1);
    equal(report.groupSizes.reduce((a, b) => a + b, 0), M);
    ok(Number.isFinite(report.energyData) && Number.isFinite(report.gmmLogLikelihood));
    const w = await module.weight.value.data();
    const step = CONFIG.energyLr * lambda3At(CONFIG, 0);
    for (let k = 0; k < K; k += 37) {
      for (let j = 0; j < M; j++) {
        for (let c = 0; c < 3; c++) {
          const expected = c === module.assignment[j] ? step : -CONFIG.lambda1 * step;
          ok(
            Math.abs(w[(k * M + j) * 3 + c] - expected) < 1e-6,
            `W[${k}, ${j}, ${c}] = ${w[(k * M + j) * 3 + c]}`,
          );
        }
      }
    }
    ok(report.interpLoss < 0, `L_interp fell below 0: ${report.interpLoss}`);
    // The G step changes the head and leaves the RGB layer alone.
    const rgbAfter = await G.parameters().at(-1)!.value.data();
    const headAfter = await G.headParameters()[0].value.data();
    ok(rgbAfter.every((v, i) => v === rgbBefore[i]), "rgb layer unchanged");
    ok(headAfter.some((v, i) => v !== headBefore[i]), "head changed");
  } finally {
    G.dispose();
    optG.dispose();
    module.dispose();
  }
});

Deno.test("the W update of Eq. 8 widens the gap between g_W at sampled and at revised latents", async () => {
  const gen = new RandomStream(4);
  const G = warmGenerator(4);
  try {
    await asyncScope(async () => {
      const n = 6;
      const averaging = tensor(groupAveraging(ASSIGNMENT, 3), [3, M]);
      const coefficients = interpretabilityCoefficients(ASSIGNMENT, 3, CONFIG.lambda1);
      const maps = (z: Tensor) => targetMaps(G, z);
      const w = gen.normal([K, M, 3], 5, 1);
      const [zData, zModel] = [
        gen.normal([n, TINY_NETWORK.latent]),
        gen.normal([n, TINY_NETWORK.latent]),
      ];
      const gap = (weight: Tensor) =>
        sub(
          mean(energy(weight, maps(zData), averaging)),
          mean(energy(weight, maps(zModel), averaging)),
        );
      const data = valueAndGrad(() => mean(energy(w, maps(zData), averaging)), [w]);
      const model = valueAndGrad(() => mean(energy(w, maps(zModel), averaging)), [w]);
      const before = await gap(w).item();
      // lambda3 = 0: the L_real part alone must raise data energy relative to model energy.
      const step = energyWeightGradient(data.grads[0], model.grads[0], coefficients, 1, 0);
      const squaredNorm = await sum(square(step)).item();
      // g_W is linear in W, so a step of lr along -step gains exactly lr |step|^2: aim for 0.1.
      const lr = 0.1 / squaredNorm;
      const after = await gap(sub(w, mul(step, lr))).item();
      ok(after > before, `gap ${before} -> ${after}`);
      ok(Math.abs(after - before - 0.1) < 1e-3, `gain ${after - before}, expected 0.1`);
    });
  } finally {
    G.dispose();
  }
});

Deno.test("a pooled (and normalised) energy model has one W row per block and gives G its term", async (t) => {
  // The config refuses a pool that does not divide the 16x16 target layer of 32x32 images.
  throws(
    () =>
      resolveConfig({ network: { resolution: 32 }, interpretable: { ...CONFIG, energyPool: 3 } }),
    (e) => e instanceof ConfigError && /energyPool \(3\) must divide .* 16x16/.test(e.message),
  );
  for (const energyNormalize of [false, true]) {
    await t.step(energyNormalize ? "pool 2, unit-RMS maps" : "pool 2", async () => {
      const G = warmGenerator(5);
      const optG = new Adam({ lr: 1e-3 });
      const config = { ...CONFIG, energyPool: 2, energyNormalize };
      const module = new InterpretabilityModule(config, [M, 16, 16]);
      try {
        deepEqual(module.weight.shape, [8 * 8, M, 3]);
        const report = await module.step(G, optG, new RandomStream(9), 0);
        ok(Number.isFinite(report.energyData), `g_W ${report.energyData}`);
        await asyncScope(async () => {
          const z = new RandomStream(10).normal([4, TINY_NETWORK.latent]);
          const maps = G.head(z, { training: false });
          const pooled = energyPositions(maps, 2);
          const seen = energyNormalize ? rmsNormalize(pooled) : pooled;
          const averaging = tensor(groupAveraging(module.assignment, 3), [3, M]);
          const direct = await mean(energy(module.weight.value, seen, averaging)).item();
          ok(direct !== 0, "W is no longer zero after a step");
          const term = await module.generatorLoss(maps).item();
          ok(
            Math.abs(term - -config.lambda0 * config.lambda2G * direct) < 1e-6 * Math.abs(direct),
            `generator term ${term}, g_W ${direct}`,
          );
        });
      } finally {
        G.dispose();
        optG.dispose();
        module.dispose();
      }
    });
  }
});

Deno.test("generatorLoss adds the fixed-pattern penalty at its weight, and the step counts fixed filters", async () => {
  const G = warmGenerator(6);
  const optG = new Adam({ lr: 1e-3 });
  // Before any step W is zero, so the two modules' energy terms agree and their gap is the penalty.
  const plain = new InterpretabilityModule(CONFIG, [M, 16, 16]);
  const penalised = new InterpretabilityModule(
    { ...CONFIG, fixedShareWeight: 2, fixedShareLimit: 0.5 },
    [M, 16, 16],
  );
  try {
    await asyncScope(async () => {
      const latent = TINY_NETWORK.latent;
      const varied = new RandomStream(10).normal([4, latent]);
      const one = await new RandomStream(11).normal([1, latent]).data();
      const repeated = tensor(
        Float32Array.from({ length: 4 * latent }, (_, i) => one[i % latent]),
        [
          4,
          latent,
        ],
      );
      for (const z of [varied, repeated]) {
        const maps = G.head(z, { training: false });
        const expected = await fixedPatternPenalty(maps, 2, 0.5).item();
        const gap = await sub(penalised.generatorLoss(maps), plain.generatorLoss(maps)).item();
        ok(Math.abs(gap - expected) < 1e-6, `penalty ${gap}, expected ${expected}`);
      }
      // Four copies of one image: every filter that is on draws a fixed pattern.
      const copies = G.head(repeated, { training: false });
      ok(await fixedPatternPenalty(copies, 2, 0.5).item() > 0, "the copies are penalised");
    });
    const report = await plain.step(G, optG, new RandomStream(9), 0);
    ok(
      Number.isInteger(report.fixedFilters) && report.fixedFilters >= 0 &&
        report.fixedFilters <= M,
      `fixed filters ${report.fixedFilters}`,
    );
  } finally {
    G.dispose();
    optG.dispose();
    plain.dispose();
    penalised.dispose();
  }
});
