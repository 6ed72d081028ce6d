/**
 * Engine benchmark: matrix product, 3x3 convolution forward/backward and
 * DCGAN training steps, with PyTorch's figures for the same work measured
 * side by side when a Python with torch is available.
 *
 * Usage: deno task bench:engine [--quick] [--steps N] [--no-torch] [--profile]
 * Prints a table, then one JSON object as the last line. `--profile` also
 * prints where one step of each DCGAN configuration spends its device time,
 * per kernel (needs the adapter's timestamp queries).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { valueAndGrad } from "../../training/engine/autograd.ts";
import {
  getEngine,
  initEngine,
  memoryStats,
  sync,
  trimMemory,
} from "../../training/engine/engine.ts";
import { conv2d } from "../../training/engine/ops/conv.ts";
import { matmul } from "../../training/engine/ops/matmul.ts";
import { sum } from "../../training/engine/ops/reduce.ts";
import { Adam } from "../../training/engine/optim/adam.ts";
import { RandomStream } from "../../training/engine/random.ts";
import { asyncScope, scope } from "../../training/engine/tensor.ts";
import { ganStep } from "../../training/gan_step.ts";
import { GanGenerator } from "../../training/networks/generator.ts";
import { GanDiscriminator } from "../../training/networks/discriminator.ts";
import { dcgan } from "../../training/networks/dcgan.ts";
import { type TorchReference, torchReference } from "./torch.ts";

const CONFIGS = { W16_b16: [16, 16], W16_b64: [16, 64], W64_b16: [64, 16], W64_b64: [64, 64] };
type ConfigName = keyof typeof CONFIGS;

const usage = "usage: deno task bench:engine [--quick] [--steps N] [--no-torch] [--profile]";
let args;
try {
  args = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      steps: { type: "string" },
      "no-torch": { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  }).values;
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  Deno.exit(2);
}
if (args.help) {
  console.log(usage);
  Deno.exit(0);
}
const steps = args.steps === undefined ? undefined : Number(args.steps);
const profile = args.profile;
if (steps !== undefined && (!Number.isInteger(steps) || steps < 1)) {
  console.error(`--steps must be a positive integer, got ${args.steps}.\n${usage}`);
  Deno.exit(2);
}

const log = (message: string) => console.error(`[bench] ${message}`);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Mean milliseconds of `fn` after one warm-up run. Runs are queued in batches
 * with one wait at the end, as a training loop queues its work (waiting for
 * the device after every run would add the runtime's completion-polling
 * latency, measured at several ms on a GPU, to every run); batches double
 * until one lasts 300 ms.
 */
async function timeIt(fn: () => void, minReps: number): Promise<number> {
  fn();
  await sync();
  for (let reps = minReps;; reps *= 2) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    await sync();
    const ms = performance.now() - t0;
    if (ms >= 300 || reps >= 1024) return ms / reps;
  }
}

await initEngine();
const engine = getEngine();
const gen = new RandomStream(1234);
log(`adapter: ${engine.report.description} (${engine.variant} kernels)`);

log("matmul 1024^3 ...");
const matmulMs = await asyncScope(async () => {
  const a = gen.normal([1024, 1024]), b = gen.normal([1024, 1024]);
  return await timeIt(() => scope(() => void matmul(a, b)), 3);
});
const matmulGflops = (2 * 1024 ** 3) / matmulMs / 1e6;

log("conv 3x3, 64 -> 64 channels, 32x32, batch 64 ...");
const convFlops = 2 * 64 * 64 * 32 * 32 * 64 * 9;
const [convFwdMs, convBwdMs] = await asyncScope(async () => {
  const x = gen.normal([64, 64, 32, 32]), w = gen.normal([64, 64, 3, 3], 0, 0.05);
  const forward = await timeIt(() => scope(() => void conv2d(x, w, undefined, { padding: 1 })), 2);
  const both = await timeIt(
    () =>
      scope(() => void valueAndGrad(() => sum(conv2d(x, w, undefined, { padding: 1 })), [x, w])),
    2,
  );
  return [forward, both - forward];
});

interface StepResult {
  stepMs: number;
  firstStepMs: number;
  peakBytes: number;
}

/** Logs the device time of one run of `fn` per kernel, largest first. */
async function profileStep(fn: () => void): Promise<void> {
  engine.runtime.startProfiling();
  fn();
  const totals = [...(await engine.runtime.stopProfiling())].sort((a, b) => b[1].ms - a[1].ms);
  const sumMs = totals.reduce((sum, [, kernel]) => sum + kernel.ms, 0);
  log(`  device time per kernel (${round(sumMs, 1)} ms in all):`);
  for (const [name, { ms, count }] of totals) {
    log(`  ${round(ms, 2).toFixed(2).padStart(9)} ms ${String(count).padStart(4)}x  ${name}`);
  }
}

async function dcganSteps(name: ConfigName): Promise<StepResult> {
  const [width, batch] = CONFIGS[name];
  const count = steps ?? (width === 64 ? 3 : 5);
  const generator = new GanGenerator(gen, dcgan(width, 100));
  const discriminator = new GanDiscriminator(gen, dcgan(width, 100));
  const players = {
    generator,
    discriminator,
    optG: new Adam({ lr: 2e-4, beta1: 0.5 }),
    optD: new Adam({ lr: 2e-4, beta1: 0.5 }),
  };
  const real = gen.uniform([batch, 3, 64, 64], -1, 1);
  const step = () => scope(() => void ganStep(players, real, gen.normal([batch, 100])));
  engine.pool.resetPeak();
  const t0 = performance.now();
  step(); // compiles the kernels (Mesa caches them across runs)
  await sync();
  const firstStepMs = performance.now() - t0;
  const stepMs = await timeIt(step, count);
  const peakBytes = memoryStats().peakBytes;
  if (profile) await profileStep(step);
  real.dispose();
  generator.dispose();
  discriminator.dispose();
  players.optG.dispose();
  players.optD.dispose();
  trimMemory();
  return { stepMs, firstStepMs, peakBytes };
}

const configNames = (Object.keys(CONFIGS) as ConfigName[]).filter((n) =>
  !args.quick || n.startsWith("W16")
);
const results: Partial<Record<ConfigName, StepResult>> = {};
for (const name of configNames) {
  log(`DCGAN step ${name} ...`);
  results[name] = await dcganSteps(name);
  log(
    `  ${round(results[name]!.stepMs, 1)} ms/step (first step ${
      round(results[name]!.firstStepMs / 1000, 1)
    } s)`,
  );
}

let torch: TorchReference | null = null;
if (!args["no-torch"]) {
  log("PyTorch reference ...");
  torch = await torchReference({
    cuda: !engine.report.software,
    configs: configNames,
  });
  if (!torch) log("  no Python with torch found: torch figures are null");
}

const stepMs = Object.fromEntries(configNames.map((n) => [n, round(results[n]!.stepMs, 1)]));
const summary = {
  adapter: engine.report.description,
  variant: engine.variant,
  matmul_gflops: round(matmulGflops),
  conv_fwd_gflops: round(convFlops / convFwdMs / 1e6),
  conv_bwd_gflops: round((2 * convFlops) / convBwdMs / 1e6),
  step_ms: stepMs,
  first_step_ms: Object.fromEntries(
    configNames.map((n) => [n, Math.round(results[n]!.firstStepMs)]),
  ),
  peak_gpu_bytes: Math.max(...configNames.map((n) => results[n]!.peakBytes)),
  torch_device: torch?.device ?? null,
  torch_matmul_gflops: torch?.matmul_gflops ?? null,
  torch_conv_fwd_gflops: torch?.conv_fwd_gflops ?? null,
  torch_conv_bwd_gflops: torch?.conv_bwd_gflops ?? null,
  torch_step_ms: torch ? torch.step_ms : null,
};

const rows: [string, string, string][] = [
  ["matmul 1024^3 (GFLOP/s)", String(summary.matmul_gflops), String(summary.torch_matmul_gflops)],
  [
    "conv 3x3 64ch fwd (GFLOP/s)",
    String(summary.conv_fwd_gflops),
    String(summary.torch_conv_fwd_gflops),
  ],
  [
    "conv 3x3 64ch bwd (GFLOP/s)",
    String(summary.conv_bwd_gflops),
    String(summary.torch_conv_bwd_gflops),
  ],
  ...configNames.map((n): [string, string, string] => [
    `DCGAN step ${n} (ms)`,
    String(stepMs[n]),
    String(torch?.step_ms[n] ?? null),
  ]),
];
console.log(
  `${"".padEnd(30)}${"engine".padStart(12)}${`torch ${summary.torch_device ?? ""}`.padStart(16)}`,
);
for (const [what, ours, theirs] of rows) {
  console.log(`${what.padEnd(30)}${ours.padStart(12)}${theirs.padStart(16)}`);
}
console.log(`peak GPU memory: ${(summary.peak_gpu_bytes / 2 ** 20).toFixed(1)} MiB`);
console.log(JSON.stringify(summary));
