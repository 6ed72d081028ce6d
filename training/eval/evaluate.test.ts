import { deepEqual, equal, notDeepEqual, ok, rejects, throws } from "node:assert/strict";
import { initEngine } from "../engine/engine.ts";
import { ConfigError, resolveConfig } from "../config.ts";
import { TINY_RUN, trainTinyRun } from "../testing/tiny_run.ts";
import { createRun, listCheckpoints, openRun, readCheckpoint } from "../run_folder.ts";
import { CheckpointError, loadServingGenerator } from "../checkpoint.ts";
import { RandomStream } from "../engine/random.ts";
import { asyncScope } from "../engine/tensor.ts";
import { GanGenerator } from "../networks/generator.ts";
import { energyPositions, rmsNormalize } from "../interpretable/energy.ts";
import { fitGmm } from "../interpretable/gmm.ts";
import { evaluateRun, groupCount, readRunCheckpoint } from "./evaluate.ts";

await initEngine();

const BASE = {
  steps: 4,
  logEvery: 2,
  sampleEvery: 4,
  checkpointEvery: 4,
};

function trainedRun(root: string, interpretable: boolean): Promise<string> {
  return trainTinyRun(root, interpretable ? "interpretable" : "baseline", {
    ...BASE,
    interpretable: interpretable ? { groups: 3, every: 2, images: 4, langevinSteps: 1 } : null,
  });
}

Deno.test("evaluateRun: trained partitions for interpretable runs, fitted ones for baselines", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-eval-" });
  try {
    const interpretable = await evaluateRun(await trainedRun(root, true), {
      images: 6,
      figure: true,
    });
    equal(interpretable.kind, "interpretable");
    equal(interpretable.partition, "trained");
    equal(interpretable.groups, 3);
    equal(interpretable.step, 4);
    equal(interpretable.metrics.groupSizes.reduce((a, b) => a + b, 0), 8);
    // The block figures use the same trained partition.
    deepEqual(interpretable.blockMetrics.groupSizes, interpretable.metrics.groupSizes);
    for (const metrics of [interpretable.metrics, interpretable.blockMetrics]) {
      for (const x of [metrics.consistency, metrics.separation]) ok(x >= 0 && x <= 1, `${x}`);
    }
    // The figure: 6 images above their 6 concept maps, 2 px apart.
    equal(interpretable.figure!.width, 6 * 32 + 5 * 2);
    equal(interpretable.figure!.height, 2 * 32 + 2);

    const baselineRun = await trainedRun(root, false);
    const baseline = await evaluateRun(baselineRun, { images: 6, groups: 3 });
    equal(baseline.kind, "baseline");
    equal(baseline.partition, "fitted after training");
    equal(baseline.metrics.groupSizes.length, 3);
    // The baseline's block figures come from a GMM fitted on the blocks.
    equal(baseline.blockMetrics.groupSizes.reduce((a, b) => a + b, 0), 8);
    equal(baseline.figure, undefined);
    // A checkpoint already read is evaluated as it is: its file is not read again.
    const read = await readRunCheckpoint(baselineRun);
    const gone = { ...read, file: `${root}/gone.safetensors` };
    const again = await evaluateRun(baselineRun, { images: 6, groups: 3, checkpoint: gone });
    deepEqual(again.assignment, baseline.assignment);

    // With gmmNormalize the baseline's GMM is the one fitted on unit-RMS maps.
    const normalized = await evaluateRun(baselineRun, { images: 6, groups: 4, gmmNormalize: true });
    equal(normalized.gmmNormalized, true);
    equal(baseline.gmmNormalized, false);
    deepEqual(normalized.assignment, await unitRmsPartition(baselineRun, 6, 4));
    const plain = await evaluateRun(baselineRun, { images: 6, groups: 4 });
    notDeepEqual(normalized.assignment, plain.assignment, "this run's two fits differ");

    const empty = await createRun(root, "empty", resolveConfig({ ...TINY_RUN, ...BASE }));
    await rejects(evaluateRun(empty.dir), CheckpointError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** The partition a GMM (seed 1234) fits to the unit-RMS target maps of a run's newest served generator. */
async function unitRmsPartition(dir: string, images: number, groups: number): Promise<number[]> {
  const { run, config } = await openRun(dir);
  const checkpoint = await readCheckpoint((await listCheckpoints(run)).at(-1)!.file);
  const generator = new GanGenerator(new RandomStream(0), config.network);
  try {
    loadServingGenerator(generator, checkpoint);
    const fit = await asyncScope(() => {
      const z = new RandomStream(1234).normal([images, config.network.latent]);
      const maps = rmsNormalize(energyPositions(generator.head(z, { training: false }), 1));
      return fitGmm(maps, { components: groups, seed: 1234 });
    });
    return Array.from(fit.assignment);
  } finally {
    generator.dispose();
  }
}

Deno.test("groupCount: a requested C must lie within 1..M, said as a ConfigError", () => {
  const config = resolveConfig({ network: { targetChannels: 16 } });
  equal(groupCount(config, 16), 16);
  equal(groupCount(config), 16, "the default (24) at most M");
  equal(groupCount(resolveConfig({ network: { targetChannels: 128 } })), 24);
  for (const bad of [0, 17]) {
    throws(
      () => groupCount(config, bad),
      (e) => e instanceof ConfigError && /1 to 16/.test(e.message),
    );
  }
  const interpretable = resolveConfig({
    network: { targetChannels: 16 },
    interpretable: { groups: 4 },
  });
  equal(groupCount(interpretable), 4);
  equal(groupCount(interpretable, 4), 4);
  throws(() => groupCount(interpretable, 3), /this interpretable run has its trained 4/);
});

Deno.test("a run folder that does not exist is said so, not as a folder without config.json", async () => {
  await rejects(
    readRunCheckpoint("/nonexistent/run"),
    /\/nonexistent\/run does not exist; pass a folder/,
  );
  const empty = await Deno.makeTempDir();
  await rejects(readRunCheckpoint(empty), /is not a run folder \(it has no config\.json\)/);
  await Deno.remove(empty);
});
