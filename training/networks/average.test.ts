import { equal, ok } from "node:assert/strict";
import { TINY_NETWORK } from "../testing/tiny_run.ts";
import { initEngine } from "../engine/engine.ts";
import { RandomStream } from "../engine/random.ts";
import { asyncScope } from "../engine/tensor.ts";
import { averageDecay, recalibrateNorms, updateAverage } from "./average.ts";
import { GanGenerator } from "./generator.ts";

await initEngine();

Deno.test("averageDecay halves the average's memory every halfLife images", () => {
  equal(averageDecay(64, 64), 0.5);
  equal(Math.abs(averageDecay(32, 10000) ** (10000 / 32) - 0.5) < 1e-12, true);
});

Deno.test("updateAverage mixes each parameter as decay * average + (1 - decay) * current", async () => {
  const average = new GanGenerator(new RandomStream(1), TINY_NETWORK);
  const current = new GanGenerator(new RandomStream(2), TINY_NETWORK);
  try {
    const before = await average.parameters()[1].value.data();
    const target = await current.parameters()[1].value.data();
    updateAverage(average, current, 0.75);
    const after = await average.parameters()[1].value.data();
    for (let i = 0; i < after.length; i++) {
      ok(Math.abs(after[i] - (0.75 * before[i] + 0.25 * target[i])) < 1e-6, `element ${i}`);
    }
    updateAverage(average, current, 0);
    const copied = await average.parameters()[1].value.data();
    equal(copied.every((v, i) => v === target[i]), true, "decay 0 copies");
  } finally {
    average.dispose();
    current.dispose();
  }
});

Deno.test("recalibrateNorms: inference on the recalibration batch matches training mode on it", async () => {
  const generator = new GanGenerator(new RandomStream(3), TINY_NETWORK);
  try {
    const recalibration = { batches: 1, batch: 16, seed: 9 };
    const [inference, training] = await asyncScope(async () => {
      const z = new RandomStream(9).normal([16, TINY_NETWORK.latent]);
      const stale = await generator.forward(z, { training: false }).data();
      recalibrateNorms(generator, recalibration);
      const after = await generator.forward(z, { training: false }).data();
      ok(stale.some((v, i) => Math.abs(v - after[i]) > 1e-3), "the statistics changed");
      // Training mode on the same batch normalises with its own statistics (and moves the
      // running ones, which is why it runs last).
      return [after, await generator.forward(z, { training: true }).data()];
    });
    // Running variance is unbiased, the batch's biased: they differ by n / (n - 1).
    const worst = inference.reduce((m, v, i) => Math.max(m, Math.abs(v - training[i])), 0);
    ok(worst < 2e-2, `largest difference ${worst}`);
  } finally {
    generator.dispose();
  }
});
