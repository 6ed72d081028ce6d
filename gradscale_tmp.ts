// Analysis (not committed): norms of the GAN loss gradient and of the interpretability
// objective's gradient on the generator's head parameters, at a checkpoint of an interpretable run.
import { initEngine } from "./training/engine/engine.ts";
import { valueAndGrad } from "./training/engine/autograd.ts";
import { mul, square } from "./training/engine/ops/elementwise.ts";
import { reshape } from "./training/engine/ops/layout.ts";
import { mean, sum } from "./training/engine/ops/reduce.ts";
import { asyncScope, tensor } from "./training/engine/tensor.ts";
import { Generator } from "./training/engine/random.ts";
import { listCheckpoints, openRun, readCheckpoint } from "./training/run_folder.ts";
import { GanTrainer } from "./training/trainer.ts";
import { loadImageFolder } from "./training/data/folder.ts";
import { energy, groupAveraging } from "./training/interpretable/energy.ts";
import { generatorLoss } from "./training/losses.ts";
await initEngine();
const { run, config } = await openRun(Deno.args[0]);
const set = (await loadImageFolder((config.data as { path: string }).path, {
  resolution: config.network.resolution,
})).set;
const trainer = new GanTrainer(config, set);
trainer.restore(await readCheckpoint((await listCheckpoints(run)).at(-1)!.file));
const G = trainer.generator, D = trainer.discriminator, module = trainer.interpretability!;
const ic = config.interpretable!;
const head = G.headParameters();
const norm = async (grads: { shape: readonly number[] }[] & any[]) => {
  let s = 0;
  for (const g of grads) s += await (sum(square(g)) as any).item();
  return Math.sqrt(s);
};
await asyncScope(async () => {
  const z = new Generator(7).normal([config.batch, config.network.latent]);
  const gan = valueAndGrad(
    () =>
      generatorLoss(config.loss, D.forward(G.forward(z, { training: true }), { training: true })),
    head.map((p) => p.value),
  );
  const [, m, h, w] = G.targetShape(1);
  const zi = new Generator(8).normal([ic.images, config.network.latent]);
  const averaging = tensor(groupAveraging(module.assignment, ic.groups), [ic.groups, m]);
  const interp = valueAndGrad(
    () =>
      mul(
        mean(
          energy(
            module.weight.value,
            reshape(G.head(zi, { training: false }), [ic.images, m, h * w]),
            averaging,
          ),
        ),
        -ic.lambda0 * ic.lambda2G,
      ),
    head.map((p) => p.value),
  );
  const [gn, inn] = [await norm(gan.grads), await norm(interp.grads)];
  console.log(
    JSON.stringify({
      step: trainer.step,
      ganGradNorm: gn,
      interpGradNorm: inn,
      ratio: gn / inn,
      interpValue: await interp.value.item(),
      M: m,
      K: h * w,
    }),
  );
});
