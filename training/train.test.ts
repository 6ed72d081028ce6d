/**
 * The training loop on a tiny model and the synthetic faces: losses move and
 * stay finite, checkpoint-then-resume equals an uninterrupted run, and the
 * command line stops cleanly on Ctrl-C.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initEngine } from "./engine/engine.ts";
import { resolveConfig, type TrainConfig } from "./config.ts";
import { decodeImage } from "../core/image.ts";
import {
  createRun,
  listCheckpoints,
  readCheckpoint,
  type RunFolder,
  truncateLog,
} from "./run_folder.ts";
import { GanTrainer } from "./trainer.ts";
import { type LogRecord, trainLoop } from "./train.ts";
import { ENERGY_WEIGHT, GMM_MEANS, type InterpretabilityReport } from "./interpretable/module.ts";
import type { Safetensors } from "./safetensors.ts";
import { silentProgress, TINY_RUN, tinyFaces } from "./testing/tiny_run.ts";
import { ChildOutput } from "../core/child_output.ts";

await initEngine();

const TINY: TrainConfig = resolveConfig({
  ...TINY_RUN,
  steps: 8,
  logEvery: 1,
  sampleEvery: 4,
  checkpointEvery: 4,
  keepCheckpoints: 2,
});
const SET = tinyFaces();
const quiet = () => silentProgress(TINY.steps);

/** TINY as an interpretable GAN with an interpretability step every 2 GAN steps. */
const TINY_INTERPRETABLE: TrainConfig = resolveConfig({
  ...TINY,
  interpretable: { groups: 3, every: 2, images: 4, langevinSteps: 2 },
});

/** Trains a fresh tiny run (to `stopAt`), returning its folder, trainer and log. */
async function tinyRun(root: string, stopAt?: number, config = TINY) {
  const run = await createRun(root, "tiny", config);
  const trainer = new GanTrainer(config, SET);
  const records: LogRecord[] = [];
  const reports: InterpretabilityReport[] = [];
  const outcome = await trainLoop({
    trainer,
    run,
    stopAt,
    progress: quiet(),
    onLog: (r) => records.push(r),
    onInterpretability: (r) => reports.push(r),
  });
  return { run, trainer, records, reports, outcome };
}

const losses = (records: LogRecord[]) => records.map((r) => [r.step, r.lossD, r.lossG]);

Deno.test("a tiny GAN trains on the synthetic faces: finite, changing losses and a full run folder", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-runs-" });
  const { run, trainer, records, outcome } = await tinyRun(root);
  try {
    deepEqual(records.map((r) => r.step), [1, 2, 3, 4, 5, 6, 7, 8]);
    for (const r of records) {
      ok(Number.isFinite(r.lossD) && Number.isFinite(r.lossG), JSON.stringify(r));
    }
    ok(
      new Set(records.map((r) => r.lossD)).size === 8,
      `D losses change: ${JSON.stringify(losses(records))}`,
    );
    ok(new Set(records.map((r) => r.lossG)).size === 8, "G losses change");
    equal(outcome.interrupted, false);
    equal(outcome.step, 8);
    // Checkpoints at 4 and 8 (keep 2), samples at 4 and 8, one log line per step.
    deepEqual((await listCheckpoints(run)).map((c) => c.step), [4, 8]);
    const grid = decodeImage(await Deno.readFile(run.sampleFile(8)));
    equal(grid.width, 8 * 32 + 7 * 2);
    const log = (await Deno.readTextFile(run.logFile)).trim().split("\n").map((l) => JSON.parse(l));
    deepEqual(log.map((r) => r.step), [1, 2, 3, 4, 5, 6, 7, 8]);
    deepEqual(JSON.parse(await Deno.readTextFile(run.configFile)), TINY);
    // The generator's weight average is checkpointed beside the trained weights, and differs.
    const { tensors } = await readCheckpoint((await listCheckpoints(run)).at(-1)!.file);
    const [trained, averaged] = ["generator", "generator_ema"].map((net) =>
      tensors[`${net}.target.conv.weight`]?.data
    );
    ok(averaged && averaged.length === trained.length, "the average has the generator's shapes");
    ok(averaged.some((v, i) => v !== trained[i]), "the average lags the trained weights");
  } finally {
    trainer.dispose();
    await Deno.remove(root, { recursive: true });
  }
});

for (
  const [kind, config] of [
    ["baseline", TINY],
    ["interpretable", TINY_INTERPRETABLE],
    ["baseline with R1", { ...TINY, r1Gamma: 1 }],
    ["interpretable with its head frozen", { ...TINY_INTERPRETABLE, freezeHead: true }],
  ] as const
) {
  Deno.test(`${kind}: checkpoint then resume gives the same next-step losses as an uninterrupted run`, async () => {
    await checkResume(config);
  });
}

/** A new trainer restored from the newest checkpoint of `run`, trained to the end of the run. */
async function resumeRest(config: TrainConfig, run: RunFolder) {
  const trainer = new GanTrainer(config, SET);
  trainer.restore(await readCheckpoint((await listCheckpoints(run)).at(-1)!.file));
  const from = trainer.step;
  await truncateLog(run, from);
  const rest: LogRecord[] = [];
  await trainLoop({ trainer, run, progress: quiet(), onLog: (r) => rest.push(r) });
  return { trainer, from, rest };
}

async function checkResume(config: TrainConfig): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "igan-runs-" });
  const whole = await tinyRun(root, undefined, config);
  const half = await tinyRun(root, 4, config);
  const resumed = await resumeRest(config, half.run);
  try {
    equal(half.outcome.step, 4);
    equal(resumed.from, 4);
    deepEqual(losses(resumed.rest), losses(whole.records.slice(4)));
    // The snapshot after the resumed steps equals the uninterrupted one, tensor for tensor.
    const [a, b] = [await whole.trainer.snapshot(), await resumed.trainer.snapshot()];
    deepEqual(Object.keys(b.tensors).sort(), Object.keys(a.tensors).sort());
    for (const name of Object.keys(a.tensors)) {
      deepEqual(b.tensors[name].data, a.tensors[name].data, name);
    }
  } finally {
    for (const t of [whole.trainer, half.trainer, resumed.trainer]) t.dispose();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("a run checkpointed on the CPU backend resumes on WebGPU: the same losses to f32 rounding", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-runs-" });
  await initEngine({ backend: "cpu" });
  const whole = await tinyRun(root);
  const half = await tinyRun(root, 4);
  await initEngine({ backend: "webgpu" });
  const { trainer: resumed, rest } = await resumeRest(TINY, half.run);
  try {
    const expected = losses(whole.records.slice(4));
    deepEqual(rest.map((r) => r.step), [5, 6, 7, 8]);
    losses(rest).forEach(([, d, g], k) => {
      const [, d0, g0] = expected[k];
      ok(
        Math.abs(d - d0) <= 1e-3 * Math.abs(d0) && Math.abs(g - g0) <= 1e-3 * Math.abs(g0),
        `step ${k + 5}: ${d}, ${g} against ${d0}, ${g0}`,
      );
    });
  } finally {
    resumed.dispose();
    await initEngine({ backend: "cpu" });
    whole.trainer.dispose();
    half.trainer.dispose();
    await initEngine(); // back to this machine's default backend for the tests that follow
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an interpretable run can start from a baseline checkpoint's generator (and D)", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "igan-runs-" });
  const baseline = await tinyRun(root, 4);
  try {
    const checkpoint = await readCheckpoint(baseline.outcome.checkpoint);
    for (const initDiscriminator of [false, true]) {
      await t.step(initDiscriminator ? "G and D" : "G only", async () => {
        const config = {
          ...TINY_INTERPRETABLE,
          initFrom: baseline.outcome.checkpoint,
          initDiscriminator,
        };
        const tuned = new GanTrainer(config, SET);
        try {
          tuned.initFrom(checkpoint);
          const snapshot = await tuned.snapshot();
          for (const [name, t] of Object.entries(checkpoint.tensors)) {
            const taken = name.startsWith("generator.") ||
              (initDiscriminator && name.startsWith("discriminator."));
            if (taken) deepEqual(snapshot.tensors[name].data, t.data, name);
          }
          const weight = Object.keys(checkpoint.tensors).find((n) =>
            n.startsWith("discriminator.")
          )!;
          equal(
            snapshot.tensors[weight].data.every((v, i) => v === checkpoint.tensors[weight].data[i]),
            initDiscriminator,
            `D's ${weight} is taken only with initDiscriminator`,
          );
          equal(tuned.step, 0);
        } finally {
          tuned.dispose();
        }
      });
    }
  } finally {
    baseline.trainer.dispose();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a fine-tune's discriminator warm-up moves D alone, before the first generator step", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-runs-" });
  const baseline = await tinyRun(root, 4);
  const config = resolveConfig({
    ...TINY,
    steps: 2,
    initFrom: baseline.outcome.checkpoint,
    discriminatorWarmup: 3,
  });
  const tuned = new GanTrainer(config, SET);
  try {
    tuned.initFrom(await readCheckpoint(baseline.outcome.checkpoint));
    const before = await tuned.snapshot();
    const run = await createRun(root, "warmed", config);
    const records: LogRecord[] = [];
    await trainLoop({ trainer: tuned, run, progress: quiet(), onLog: (r) => records.push(r) });
    const log = (await Deno.readTextFile(run.logFile)).trim().split("\n").map((l) => JSON.parse(l));
    deepEqual(log.slice(0, 3).map((r) => r.warmup), [1, 2, 3], "three warm-up records first");
    ok(log.slice(0, 3).every((r) => Number.isFinite(r.lossD) && r.step === undefined));
    deepEqual(records.map((r) => r.step), [1, 2]);
    equal(tuned.step, 2, "warm-up updates are not generator steps");
    // A trainer warmed up alone: its discriminator moved, its generator's weights did not (their
    // batch norms' running statistics follow the batches, as in any training-mode forward).
    const alone = new GanTrainer(config, SET);
    try {
      alone.initFrom(await readCheckpoint(baseline.outcome.checkpoint));
      for (let k = 0; k < 3; k++) alone.discriminatorWarmupStep();
      const after = await alone.snapshot();
      for (const [name, t] of Object.entries(before.tensors)) {
        if (name.startsWith("generator.") && !name.includes("running")) {
          deepEqual(after.tensors[name].data, t.data, `${name} does not move in the warm-up`);
        }
      }
      const dWeight = Object.keys(before.tensors).find((n) => n.startsWith("discriminator."))!;
      ok(
        after.tensors[dWeight].data.some((v, i) => v !== before.tensors[dWeight].data[i]),
        `${dWeight} moves in the warm-up`,
      );
      equal(alone.step, 0);
    } finally {
      alone.dispose();
    }
  } finally {
    tuned.dispose();
    baseline.trainer.dispose();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a frozen head takes its average's weights and keeps them; the tail and D train, the groups stay", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-runs-" });
  const interpretable = await tinyRun(root, 4, TINY_INTERPRETABLE);
  const config = { ...TINY_INTERPRETABLE, freezeHead: true };
  const frozen = new GanTrainer(config, SET);
  try {
    const checkpoint = await readCheckpoint(interpretable.outcome.checkpoint);
    frozen.restore(checkpoint);
    const head = frozen.generator.headParameters().map((p) => p.name);
    const tail = frozen.generator.tailParameters().map((p) => p.name);
    const saved = (name: string) => checkpoint.tensors[name].data;
    ok(
      head.some((n) =>
        saved(`generator.${n}`).some((v, i) => v !== saved(`generator_ema.${n}`)[i])
      ),
      "the trained head differs from its average before the freeze",
    );
    const run = await createRun(root, "frozen", config);
    const reports: InterpretabilityReport[] = [];
    await trainLoop({
      trainer: frozen,
      run,
      progress: quiet(),
      onInterpretability: (r) => reports.push(r),
    });
    equal(frozen.step, 8);
    equal(reports.length, 0, "no interpretability step with the head frozen");
    const snapshot = await frozen.snapshot();
    const after = snapshot.tensors;
    for (const n of head) {
      deepEqual(after[`generator.${n}`].data, saved(`generator_ema.${n}`), `generator.${n}`);
      deepEqual(
        after[`generator_ema.${n}`].data,
        saved(`generator_ema.${n}`),
        `generator_ema.${n}`,
      );
    }
    const moved = (name: string) => after[name].data.some((v, i) => v !== saved(name)[i]);
    ok(tail.every((n) => moved(`generator.${n}`)), "every tail parameter trains");
    ok(tail.every((n) => moved(`generator_ema.${n}`)), "the tail's average follows");
    ok(Object.keys(after).some((n) => n.startsWith("discriminator.") && moved(n)), "D trains");
    for (const n of [ENERGY_WEIGHT, GMM_MEANS]) {
      deepEqual(after[n].data, saved(n), `${n} does not change`);
    }
    const groups = (c: Safetensors) => JSON.parse(c.metadata.state).interpretability;
    deepEqual(groups(snapshot), groups(checkpoint), "W's assignment and the GMM stay");
  } finally {
    frozen.dispose();
    interpretable.trainer.dispose();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task train --resume <checkpoint file> continues the run exactly in a new folder", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-runs-" });
  const cli = fileURLToPath(new URL("./cli.ts", import.meta.url));
  const { run, trainer } = await tinyRun(root);
  trainer.dispose();
  try {
    const [halfway] = await listCheckpoints(run);
    equal(halfway.step, 4);
    const out = join(root, "continued");
    const continued = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "--resume", halfway.file, "--out", out, "--name", "from-file"],
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(continued.stderr);
    equal(continued.code, 0, stderr);
    match(stderr, /continuing .*step-000004\.safetensors at step 4 of 8/);
    const [folder] = [...Deno.readDirSync(out)].map((e) => e.name);
    match(folder, /^00000-from-file$/);
    const steps = async (file: string) =>
      (await Deno.readTextFile(file)).trim().split("\n").map((line) => {
        const { step, lossD, lossG } = JSON.parse(line);
        return [step, lossD, lossG];
      });
    const reference = (await steps(run.logFile)).filter(([step]) => step > 4);
    deepEqual(await steps(join(out, folder, "log.jsonl")), reference);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task train: Ctrl-C writes a checkpoint and exits 130; --resume continues", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-runs-" });
  const cli = fileURLToPath(new URL("./cli.ts", import.meta.url));
  const flags = ["--synthetic", "--synthetic-count", "16", "--resolution", "32", "--width", "4"];
  flags.push("--target-channels", "8", "--latent", "8", "--batch", "4", "--log-every", "1");
  try {
    // `deno task train` in a process group of its own, so that the Ctrl-C below reaches the task
    // runner and the trainer alike, as a terminal's does (the runner passes it on too).
    const child = new Deno.Command("setsid", {
      args: [Deno.execPath(), "task", "train", ...flags, "--steps", "100000", "--out", root],
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const output = new ChildOutput(child.stderr);
    await output.until(/step 3\//);
    Deno.kill(-child.pid, "SIGINT");
    const stderr = await output.rest();
    const { code } = await child.status;
    equal(code, 130, stderr);
    match(stderr, /interrupted at step \d+; checkpoint .*step-0000\d\d\.safetensors/);
    ok(!/\n\s+at /.test(stderr), stderr);
    const [runName] = [...Deno.readDirSync(root)].map((e) => e.name);
    const runDir = join(root, runName);
    const interruptedAt = Number(/interrupted at step (\d+)/.exec(stderr)![1]);
    const resumed = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "--resume", runDir, "--steps", String(interruptedAt + 2)],
      stdout: "null",
      stderr: "piped",
    }).output();
    const resumedErr = new TextDecoder().decode(resumed.stderr);
    equal(resumed.code, 0, resumedErr);
    match(resumedErr, new RegExp(`resuming .* at step ${interruptedAt} of ${interruptedAt + 2}`));
    const log = (await Deno.readTextFile(join(runDir, "log.jsonl"))).trim().split("\n");
    deepEqual(
      log.map((l) => JSON.parse(l).step),
      Array.from({ length: interruptedAt + 2 }, (_, k) => k + 1),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
