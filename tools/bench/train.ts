/**
 * Training benchmark: wall time per training step (one discriminator and one
 * generator update, data upload included) and images per second for the
 * default configuration (or the model flags given), on the synthetic set, on
 * the backend the engine picks (`IGAN_BACKEND`), with the peak device memory
 * and the process's resident memory after the first step and at its largest
 * (a long `--timed-steps` run checks that it does not grow).
 *
 * Usage: deno task bench:train [--timed-steps N] [train flags: --width, --batch, ...]
 * Prints a table, then one JSON object as the last line.
 *
 * @module
 */

import { getEngine, initEngine, memoryStats, sync } from "../../training/engine/engine.ts";
import { describeBackend } from "../../training/engine/backend.ts";
import { roundTo } from "../../core/numbers.ts";
import { scope } from "../../training/engine/tensor.ts";
import { parseTrainArgs } from "../../training/cli.ts";
import { exitWithUsageError, positiveScriptFlag, UsageError } from "../../training/command_line.ts";
import { ConfigError } from "../../training/config.ts";
import { syntheticFaces } from "../../training/data/synthetic.ts";
import { GanTrainer } from "../../training/trainer.ts";

const usage = `usage: deno task bench:train [--timed-steps N] [model flags of deno task train]

  --timed-steps <n>   steps timed after the first [5]
  model flags         --width, --batch, --resolution, --target-channels, --interpretable, ...
                      as deno task train takes them (deno task train --help); the data is
                      always 512 synthetic faces and the weights fresh (no --data, --init-from,
                      --resume), and no run is written (no --out, --steps, --sample-every, ...)`;

/**
 * The flags of deno task train that do not apply: the benchmark times steps from fresh weights
 * on 512 synthetic faces, and writes no run folder.
 */
const NOT_APPLICABLE = [
  "data",
  "synthetic",
  "synthetic-count",
  "resume",
  "init-from",
  "init-discriminator",
  "discriminator-warmup",
  "out",
  "name",
  "cache-dir",
  "steps",
  "log-every",
  "sample-every",
  "checkpoint-every",
  "keep-checkpoints",
  "freeze-head",
  "train-head",
];

const args = [...Deno.args];
if (args.includes("--help") || args.includes("-h")) {
  console.log(usage);
  Deno.exit(0);
}
const given = args.map((a) => /^--([\w-]+)/.exec(a)?.[1]).find((flag) =>
  flag !== undefined && NOT_APPLICABLE.includes(flag)
);
if (given) {
  exitWithUsageError(
    `--${given} does not apply: the benchmark times steps from fresh weights on 512 synthetic ` +
      "faces and writes no run; it takes --timed-steps and the model flags of deno task train.",
  );
}
let timedSteps = 5;
const at = args.findIndex((a) => /^--timed-steps(=|$)/.test(a));
if (at >= 0) {
  const inline = /^--timed-steps=(.*)$/.exec(args[at])?.[1];
  timedSteps = positiveScriptFlag("timed-steps", inline ?? args[at + 1] ?? "");
  args.splice(at, inline === undefined ? 2 : 1);
}
let command;
try {
  command = parseTrainArgs(["--synthetic", "--synthetic-count", "512", ...args]);
} catch (error) {
  if (error instanceof UsageError || error instanceof ConfigError) {
    exitWithUsageError(error.message);
  }
  throw error;
}
if (command === "help" || command.kind !== "new") throw new Error("unreachable: a new run");
const { config } = command;

const log = (text: string) => console.error(text);
await initEngine();
const engine = getEngine();
log(
  `adapter: ${describeBackend(engine.report)}`,
);
const { network, batch } = config;
log(
  `model: ${network.resolution}x${network.resolution}, width ${network.width}, target channels ` +
    `${network.targetChannels}, latent ${network.latent}, batch ${batch}`,
);
const trainer = new GanTrainer(
  config,
  syntheticFaces({ count: 512, resolution: network.resolution }),
);
engine.backend.resetPeak();
const t0 = performance.now();
scope(() => void trainer.trainStep());
await sync();
const firstStepMs = performance.now() - t0;
log(
  `first step (compiles the kernels; on llvmpipe Mesa caches them across runs): ${
    firstStepMs.toFixed(0)
  } ms`,
);
// Host memory after the first step, then its largest value over the timed steps: a long
// `--timed-steps` run shows whether it grows.
const rssAfterFirst = Deno.memoryUsage().rss;
let rssMax = rssAfterFirst;
const times: number[] = [];
for (let k = 0; k < timedSteps; k++) {
  const start = performance.now();
  scope(() => void trainer.trainStep());
  await sync();
  times.push(performance.now() - start);
  if ((k + 1) % 100 === 0 || k + 1 === timedSteps) {
    rssMax = Math.max(rssMax, Deno.memoryUsage().rss);
    if ((k + 1) % 1000 === 0) {
      log(`step ${k + 1}/${timedSteps}: resident ${(rssMax / 2 ** 20).toFixed(0)} MiB at most`);
    }
  }
}
const rssEnd = Deno.memoryUsage().rss;
const stepMs = times.reduce((a, b) => a + b, 0) / times.length;
const peak = memoryStats().peakBytes;
trainer.dispose();

const rows = [
  ["step (ms)", stepMs.toFixed(1)],
  ["images/s", ((batch * 1000) / stepMs).toFixed(1)],
  ["peak device MiB", (peak / 2 ** 20).toFixed(1)],
  ["resident MiB", `${(rssAfterFirst / 2 ** 20).toFixed(0)} -> ${(rssEnd / 2 ** 20).toFixed(0)}`],
  ["steps timed", String(timedSteps)],
];
for (const [name, value] of rows) console.log(`${name.padEnd(14)} ${value.padStart(10)}`);
console.log(JSON.stringify({
  adapter: engine.report.description,
  backend: engine.report.backend,
  variant: engine.report.variant,
  network,
  batch,
  step_ms: roundTo(stepMs, 1),
  // Each step's time for short runs; long (memory) runs keep the mean only.
  step_ms_runs: times.length <= 100 ? times.map((t) => Math.round(t)) : null,
  images_per_second: roundTo((batch * 1000) / stepMs, 2),
  first_step_ms: Math.round(firstStepMs),
  peak_device_bytes: peak,
  rss_after_first_step: rssAfterFirst,
  rss_max: rssMax,
  rss_end: rssEnd,
}));
