import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { initEngine } from "../engine/engine.ts";
import { resolveConfig } from "../config.ts";
import { TINY_RUN, trainTinyRun } from "../testing/tiny_run.ts";
import { createRun } from "../run_folder.ts";
import { CheckpointError } from "../trainer.ts";
import { evaluateRun } from "./evaluate.ts";

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

    const baseline = await evaluateRun(await trainedRun(root, false), { images: 6, groups: 3 });
    equal(baseline.kind, "baseline");
    equal(baseline.partition, "fitted after training");
    equal(baseline.metrics.groupSizes.length, 3);
    // The baseline's block figures come from a GMM fitted on the blocks.
    equal(baseline.blockMetrics.groupSizes.reduce((a, b) => a + b, 0), 8);
    equal(baseline.figure, undefined);

    const empty = await createRun(root, "empty", resolveConfig({ ...TINY_RUN, ...BASE }));
    await rejects(evaluateRun(empty.dir), CheckpointError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
