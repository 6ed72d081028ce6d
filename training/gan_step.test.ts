import { equal, notDeepEqual, ok } from "node:assert/strict";
import { TINY_NETWORK } from "./testing/tiny_run.ts";
import { initEngine } from "./engine/engine.ts";
import { mean } from "./engine/ops/reduce.ts";
import { mul } from "./engine/ops/elementwise.ts";
import { Adam } from "./engine/optim/adam.ts";
import { RandomStream } from "./engine/random.ts";
import { asyncScope, liveTensorCount } from "./engine/tensor.ts";
import { GanDiscriminator } from "./networks/discriminator.ts";
import { GanGenerator } from "./networks/generator.ts";
import { ganStep, type Generate } from "./gan_step.ts";

await initEngine();

/**
 * One step of fresh, identically seeded players (with an R1 penalty of
 * weight `r1Gamma` if given); returns the losses and G's first head weights
 * and D's first weights.
 */
async function oneStep(generate?: (G: GanGenerator) => Generate, r1Gamma?: number) {
  const gen = new RandomStream(5);
  const G = new GanGenerator(gen, TINY_NETWORK), D = new GanDiscriminator(gen, TINY_NETWORK);
  const optG = new Adam({ lr: 1e-2 }), optD = new Adam({ lr: 1e-2 });
  try {
    return await asyncScope(async () => {
      const real = gen.uniform([3, 3, 32, 32], -1, 1);
      const z = gen.normal([3, TINY_NETWORK.latent]);
      const r1 = r1Gamma === undefined
        ? undefined
        : { gamma: r1Gamma, directions: new RandomStream(9).normal(real.shape) };
      const losses = ganStep(
        { generator: G, discriminator: D, optG, optD },
        real,
        z,
        { generate: generate?.(G), r1 },
      );
      return {
        lossD: await losses.lossD.item(),
        lossG: await losses.lossG.item(),
        r1: await losses.r1?.item(),
        head: await G.headParameters()[0].value.data(),
        discriminator: await D.parameters()[0].value.data(),
      };
    });
  } finally {
    for (const x of [G, D, optG, optD]) x.dispose();
  }
}

Deno.test("an extra generator term changes G's update but not the reported losses", async () => {
  const before = liveTensorCount();
  const plain = await oneStep();
  const penalised = await oneStep((G) => (z, ctx) => {
    const maps = G.head(z, ctx);
    return { fake: G.tail(maps, ctx), extraLoss: mul(mean(maps), 100) };
  });
  equal(penalised.lossD, plain.lossD);
  equal(penalised.lossG, plain.lossG);
  notDeepEqual(penalised.head, plain.head);
  equal(liveTensorCount(), before, "tensors left behind");
});

Deno.test("an R1 penalty is reported, added to D's loss, and changes D's update", async () => {
  const before = liveTensorCount();
  const plain = await oneStep();
  const penalised = await oneStep(undefined, 10);
  equal(plain.r1, undefined);
  ok(penalised.r1! > 0, `penalty ${penalised.r1}`);
  ok(
    Math.abs(penalised.lossD - (plain.lossD + penalised.r1!)) < 1e-5 * (1 + penalised.lossD),
    `D's loss ${penalised.lossD} is not ${plain.lossD} + ${penalised.r1}`,
  );
  notDeepEqual(penalised.discriminator, plain.discriminator);
  equal(liveTensorCount(), before, "tensors left behind");
});
