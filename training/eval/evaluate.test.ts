import { equal, ok, rejects } from "node:assert/strict";
import { initEngine } from "../engine/engine.ts";
import { resolveConfig } from "../config.ts";
import { silentProgress, TINY_RUN, tinyFaces } from "../testing/tiny_run.ts";
import { createRun } from "../run_folder.ts";
import { trainLoop } from "../train.ts";
import { CheckpointError, GanTrainer } from "../trainer.ts";
import { evaluateRun } from "./evaluate.ts";

await initEngine();

const BASE = {
  ...TINY_RUN,
  steps: 4,
  logEvery: 2,
  sampleEvery: 4,
  checkpointEvery: 4,
};

async function trainedRun(root: string, interpretable: boolean): Promise<string> {
  const config = resolveConfig({
    ...BASE,
    interpretable: interpretable ? { groups: 3, every: 2, images: 4, langevinSteps: 1 } : null,
  });
  const run = await createRun(root, interpretable ? "interpretable" : "baseline", config);
  const trainer = new GanTrainer(config, tinyFaces());
  try {
    await trainLoop({ trainer, run, progress: silentProgress(4) });
  } finally {
    trainer.dispose();
  }
  return run.dir;
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
    for (const x of [interpretable.metrics.consistency, interpretable.metrics.separation]) {
      ok(x >= 0 && x <= 1);
    }
    // The figure: 6 images above their 6 concept maps, 2 px apart.
    equal(interpretable.figure!.width, 6 * 32 + 5 * 2);
    equal(interpretable.figure!.height, 2 * 32 + 2);

    const baseline = await evaluateRun(await trainedRun(root, false), { images: 6, groups: 3 });
    equal(baseline.kind, "baseline");
    equal(baseline.partition, "fitted after training");
    equal(baseline.metrics.groupSizes.length, 3);
    equal(baseline.figure, undefined);

    const empty = await createRun(root, "empty", resolveConfig(BASE));
    await rejects(evaluateRun(empty.dir), CheckpointError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
