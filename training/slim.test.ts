/**
 * `deno task checkpoint:slim`: the copy drops Adam's moments, rounds the
 * energy model's W to f16 and changes nothing else; training resumes from it
 * with Adam afresh (and says so); bad command lines are one error line.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { initEngine } from "./engine/engine.ts";
import { checkpointState } from "./checkpoint.ts";
import { main as trainMain } from "./cli.ts";
import { resolveConfig } from "./config.ts";
import { listCheckpoints, openRun, readCheckpoint } from "./run_folder.ts";
import { isEnergyWeight, isSlim, main, slimCheckpoint } from "./slim.ts";
import { GanTrainer } from "./trainer.ts";
import { runCapturingErrors } from "./testing/capture_errors.ts";
import { TINY_RUN, tinyFaces, trainTinyRun } from "./testing/tiny_run.ts";

await initEngine();

const isOptimizerTensor = (name: string) => /^optimizer_[gd]\./.test(name);

Deno.test("checkpoint:slim drops Adam's moments and rounds the energy model to f16; a resume from the copy starts Adam afresh", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "igan-slim-" });
  try {
    const interpretable = { groups: 3, every: 2, images: 4, langevinSteps: 2 };
    const runDir = await trainTinyRun(root, "tiny", {
      steps: 4,
      checkpointEvery: 4,
      interpretable,
    });
    const { run } = await openRun(runDir);
    const file = (await listCheckpoints(run)).at(-1)!.file;
    const full = await readCheckpoint(file);
    const out = join(root, "slim.safetensors");

    await t.step(
      "the copy: every tensor but the optimisers', bit for bit but the energy model's f16 rounding, and the same state",
      async () => {
        const { status, errors } = await runCapturingErrors(main, [
          "--checkpoint",
          file,
          "--out",
          out,
        ]);
        equal(status, 0, errors);
        match(
          errors,
          /wrote .*slim\.safetensors \([\d.]+ MB, step 4, without Adam's moments, the energy model in f16\)/,
        );
        const slim = await readCheckpoint(out);
        const kept = Object.keys(full.tensors).filter((name) => !isOptimizerTensor(name));
        ok(kept.length < Object.keys(full.tensors).length, "the run had optimiser tensors");
        deepEqual(Object.keys(slim.tensors).sort(), kept.sort());
        ok(kept.some(isEnergyWeight), "the run had an energy model");
        for (const name of kept) {
          const { shape, data } = full.tensors[name];
          const expected = isEnergyWeight(name) ? data.map(Math.f16round) : data;
          deepEqual(slim.tensors[name], { shape, data: expected }, name);
        }
        const { optimizerSteps, ...rest } = checkpointState(slim);
        deepEqual(optimizerSteps, { optimizer_g: {}, optimizer_d: {} });
        const { optimizerSteps: _, ...fullRest } = checkpointState(full);
        deepEqual(rest, fullRest);
        equal(slim.metadata.config, full.metadata.config);
        equal(isSlim(slim), true);
        equal(isSlim(full), false);
        equal(isSlim(slimCheckpoint(full)), true);
      },
    );

    await t.step(
      "a trainer restored from it holds the weights and takes Adam's first step",
      async () => {
        const config = resolveConfig({ ...TINY_RUN, steps: 8, interpretable });
        const [fromFull, fromSlim] = [
          new GanTrainer(config, tinyFaces()),
          new GanTrainer(config, tinyFaces()),
        ];
        try {
          fromFull.restore(full);
          fromSlim.restore(await readCheckpoint(out));
          equal(fromSlim.step, 4);
          const value = async (t: { data(): Promise<Float32Array> }) => (await t.data())[0];
          const [a, b] = [fromFull.trainStep(), fromSlim.trainStep()];
          // The first step's D loss comes before either Adam step: the same; G's comes after D's.
          equal(await value(b.lossD), await value(a.lossD));
          ok(Number.isFinite(await value(b.lossG)));
          const steps = (s: Awaited<ReturnType<GanTrainer["snapshot"]>>) =>
            new Set(Object.values(checkpointState(s).optimizerSteps.optimizer_g));
          deepEqual(steps(await fromSlim.snapshot()), new Set([1]));
          ok([...steps(await fromFull.snapshot())].every((n) => n > 1));
        } finally {
          fromFull.dispose();
          fromSlim.dispose();
        }
      },
    );

    await t.step(
      "deno task train --resume <slim file> continues and says Adam starts afresh",
      async () => {
        const { status, errors } = await runCapturingErrors(trainMain, [
          "--resume",
          out,
          "--steps",
          "5",
          "--out",
          join(root, "continued"),
        ]);
        equal(status, 0, errors);
        match(errors, /continuing .*slim\.safetensors at step 4 of 5/);
        match(errors, /note: .*slim\.safetensors holds no optimiser state \(a slim checkpoint\)/);
      },
    );

    await t.step("bad command lines and an existing --out: one error line", async () => {
      const again = await runCapturingErrors(main, ["--checkpoint", file, "--out", out]);
      equal(again.status, 1);
      match(again.errors, /^error: .*slim\.safetensors exists; --out takes a new file\.$/);
      const noOut = await runCapturingErrors(main, ["--checkpoint", file]);
      equal(noOut.status, 2);
      match(noOut.errors, /^error: give --out <file>/);
      const missing = await runCapturingErrors(main, [
        "--checkpoint",
        join(root, "none.safetensors"),
        "--out",
        join(root, "x.safetensors"),
      ]);
      equal(missing.status, 1);
      match(missing.errors, /^error: the checkpoint .*none\.safetensors does not exist\.$/);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
