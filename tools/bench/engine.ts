/**
 * Engine benchmark: matrix product, 3x3 convolution forward/backward and
 * DCGAN training steps on the backend the engine picks (`IGAN_BACKEND`),
 * with PyTorch's figures for the same work measured side by side when a
 * Python with torch is available: on 1 thread and on the engine's thread
 * count (CUDA on a GPU machine). On the CPU backend it also times OpenBLAS's
 * own GEMM, called alone.
 *
 * Usage: deno task bench:engine [--quick] [--steps N] [--no-torch] [--profile]
 * `--quick` runs the W16_b64 and W32_b64 steps only. Prints a table, then one
 * JSON object as the last line, with the kernel launches and host time of
 * one step of each configuration. `--profile` also prints where one step
 * spends its time, per kernel: device time on WebGPU adapters with
 * timestamp queries, wall time on the CPU backend.
 *
 * @module
 */

import { positiveScriptFlag, scriptFlags } from "../../training/command_line.ts";
import { valueAndGrad } from "../../training/engine/autograd.ts";
import {
  getEngine,
  initEngine,
  memoryStats,
  sync,
  trimMemory,
} from "../../training/engine/engine.ts";
import { describeBackend } from "../../training/engine/backend.ts";
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
import { loadBlas } from "../../training/engine/cpu/blas.ts";
import { WebGpuBackend } from "../../training/engine/webgpu/backend.ts";
import { type TorchReference, torchReference } from "./torch.ts";
import { median, roundTo } from "../../core/numbers.ts";

const CONFIGS = {
  W16_b16: [16, 16],
  W16_b64: [16, 64],
  W32_b64: [32, 64],
  W64_b16: [64, 16],
  W64_b64: [64, 64],
};
/** What `--quick` runs: the configurations the CPU backend's targets name. */
const QUICK: readonly ConfigName[] = ["W16_b64", "W32_b64"];
type ConfigName = keyof typeof CONFIGS;

const usage = `usage: deno task bench:engine [--quick] [--steps N] [--no-torch] [--profile]

  --quick      the W16_b64 and W32_b64 training steps only
  --steps <n>  at least this many DCGAN steps in each timed batch (more until a batch takes
               0.3 s; each figure is the median of the batches) [1]
  --no-torch   skip PyTorch's side-by-side figures
  --profile    also the time and launch count of every kernel of one step of each`;
const args = scriptFlags(Deno.args, {
  quick: { type: "boolean", default: false },
  steps: { type: "string" },
  "no-torch": { type: "boolean", default: false },
  profile: { type: "boolean", default: false },
}, usage);
const steps = args.steps === undefined ? undefined : positiveScriptFlag("steps", args.steps);
const profile = args.profile;

const log = (message: string) => console.error(`[bench] ${message}`);

/** Batches each figure is the median of: the 2-core machines this runs on slow down for seconds at a time. */
const ROUNDS = 5;

/**
 * Milliseconds per run of `fn` after one warm-up run: the median over
 * {@link ROUNDS} batches of each batch's mean. Runs are queued in batches
 * with one wait at the end, as a training loop queues its work (waiting for
 * the device after every run would add the runtime's completion-polling
 * latency, measured at several ms on a GPU, to every run); the batch size
 * doubles from `minReps` until a batch lasts 300 ms.
 */
async function timeIt(fn: () => void, minReps: number): Promise<number> {
  fn();
  await sync();
  const batch = async (reps: number) => {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    await sync();
    return (performance.now() - t0) / reps;
  };
  let reps = minReps, first = await batch(reps);
  while (first * reps < 300 && reps < 1024) first = await batch(reps *= 2);
  const means = [first];
  while (means.length < ROUNDS) means.push(await batch(reps));
  return median(means);
}

await initEngine();
const engine = getEngine();
const gen = new RandomStream(1234);
log(
  `adapter: ${describeBackend(engine.report)}`,
);

log("matmul 1024^3 ...");
const matmulMs = await asyncScope(async () => {
  const a = gen.normal([1024, 1024]), b = gen.normal([1024, 1024]);
  return await timeIt(() => scope(() => void matmul(a, b)), 3);
});
const matmulGflops = (2 * 1024 ** 3) / matmulMs / 1e6;

/** OpenBLAS's own 1024^3 GEMM, called directly, for the CPU backend's ratio. */
async function blasAloneGflops(): Promise<number | null> {
  if (engine.report.backend !== "cpu") return null;
  const blas = loadBlas();
  const n = 1024;
  const a = new Float32Array(n * n).fill(0.5), b = new Float32Array(n * n).fill(0.25);
  const c = new Float32Array(n * n);
  const ms = await timeIt(
    () =>
      blas.sgemm({
        transA: false,
        transB: false,
        M: n,
        N: n,
        K: n,
        a,
        lda: n,
        b,
        ldb: n,
        c,
        ldc: n,
      }),
    3,
  );
  return (2 * n ** 3) / ms / 1e6;
}
const blasGflops = await blasAloneGflops();

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
  dispatches: number;
  hostMs: number;
}

/**
 * Logs the kernel launches and host milliseconds of one run of `fn`, and on
 * WebGPU adapters with timestamp queries its device time per kernel, largest
 * first.
 */
async function profileStep(fn: () => void): Promise<{ dispatches: number; hostMs: number }> {
  await sync();
  const before = engine.backend.dispatchCount;
  const t0 = performance.now();
  fn();
  const hostMs = performance.now() - t0;
  await sync();
  const dispatches = engine.backend.dispatchCount - before;
  log(`  ${dispatches} kernel launches, ${roundTo(hostMs, 1)} ms on the host to record them`);
  const backend = engine.backend;
  // WebGPU times kernels with timestamp queries; the CPU backend always can.
  const canProfile = !(backend instanceof WebGpuBackend) ||
    backend.gpu.device.features.has("timestamp-query");
  if (!profile || !canProfile) {
    return { dispatches, hostMs };
  }
  backend.startProfiling();
  fn();
  const totals = [...(await backend.stopProfiling())].sort((a, b) => b[1].ms - a[1].ms);
  const sumMs = totals.reduce((sum, [, kernel]) => sum + kernel.ms, 0);
  const what = backend instanceof WebGpuBackend ? "device" : "wall";
  log(`  ${what} time per kernel (${roundTo(sumMs, 1)} ms in all):`);
  for (const [name, { ms, count }] of totals) {
    log(`  ${roundTo(ms, 2).toFixed(2).padStart(9)} ms ${String(count).padStart(4)}x  ${name}`);
  }
  return { dispatches, hostMs };
}

async function dcganSteps(name: ConfigName): Promise<StepResult> {
  const [width, batch] = CONFIGS[name];
  const count = steps ?? 1;
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
  engine.backend.resetPeak();
  const t0 = performance.now();
  step(); // compiles the kernels (on llvmpipe, Mesa caches them across runs)
  await sync();
  const firstStepMs = performance.now() - t0;
  const stepMs = await timeIt(step, count);
  const peakBytes = memoryStats().peakBytes;
  const { dispatches, hostMs } = await profileStep(step);
  real.dispose();
  generator.dispose();
  discriminator.dispose();
  players.optG.dispose();
  players.optD.dispose();
  trimMemory();
  return { stepMs, firstStepMs, peakBytes, dispatches, hostMs };
}

const configNames = (Object.keys(CONFIGS) as ConfigName[]).filter((n) =>
  !args.quick || QUICK.includes(n)
);
const results: Partial<Record<ConfigName, StepResult>> = {};
for (const name of configNames) {
  log(`DCGAN step ${name} ...`);
  results[name] = await dcganSteps(name);
  log(
    `  ${roundTo(results[name]!.stepMs, 1)} ms/step (first step ${
      roundTo(results[name]!.firstStepMs / 1000, 1)
    } s)`,
  );
}

/** Threads the engine computes on: OpenBLAS's, or llvmpipe's (one per core). */
const engineThreads = engine.report.backend === "cpu"
  ? loadBlas().threads
  : navigator.hardwareConcurrency;
let torch: TorchReference | null = null;
let torchThreads: TorchReference | null = null;
if (!args["no-torch"]) {
  const cuda = !engine.report.software;
  log(`PyTorch reference (${cuda ? "CUDA if available" : "1 thread"}) ...`);
  torch = await torchReference({ cuda, configs: configNames });
  if (!torch) log("  no Python with torch found: torch figures are null");
  if (torch && !cuda && engineThreads > 1) {
    log(`PyTorch reference (${engineThreads} threads, as the engine) ...`);
    torchThreads = await torchReference({ cuda, configs: configNames, threads: engineThreads });
  }
}

const stepMs = Object.fromEntries(configNames.map((n) => [n, roundTo(results[n]!.stepMs, 1)]));
/** The engine's step over the faster of PyTorch's figures (the CPU backend's target: <= 1.25). */
const stepRatio = torch
  ? Object.fromEntries(configNames.map((n) => {
    const best = Math.min(torch!.step_ms[n], torchThreads?.step_ms[n] ?? Infinity);
    return [n, roundTo(results[n]!.stepMs / best, 2)];
  }))
  : null;
const summary = {
  adapter: engine.report.description,
  backend: engine.report.backend,
  variant: engine.report.variant,
  threads: engineThreads,
  matmul_gflops: roundTo(matmulGflops, 2),
  blas_matmul_gflops: blasGflops === null ? null : roundTo(blasGflops, 2),
  matmul_of_blas: blasGflops === null ? null : roundTo(matmulGflops / blasGflops, 2),
  conv_fwd_gflops: roundTo(convFlops / convFwdMs / 1e6, 2),
  conv_bwd_gflops: roundTo((2 * convFlops) / convBwdMs / 1e6, 2),
  step_ms: stepMs,
  first_step_ms: Object.fromEntries(
    configNames.map((n) => [n, Math.round(results[n]!.firstStepMs)]),
  ),
  dispatches_per_step: Object.fromEntries(configNames.map((n) => [n, results[n]!.dispatches])),
  host_ms_per_step: Object.fromEntries(configNames.map((n) => [n, roundTo(results[n]!.hostMs, 1)])),
  peak_bytes: Math.max(...configNames.map((n) => results[n]!.peakBytes)),
  torch_device: torch?.device ?? null,
  torch_matmul_gflops: torch?.matmul_gflops ?? null,
  torch_conv_fwd_gflops: torch?.conv_fwd_gflops ?? null,
  torch_conv_bwd_gflops: torch?.conv_bwd_gflops ?? null,
  torch_step_ms: torch ? torch.step_ms : null,
  torch_threads: torchThreads?.threads ?? null,
  torch_threads_step_ms: torchThreads ? torchThreads.step_ms : null,
  step_over_best_torch: stepRatio,
};

const rows: [string, string, string, string][] = [
  [
    "matmul 1024^3 (GFLOP/s)",
    String(summary.matmul_gflops),
    String(summary.torch_matmul_gflops),
    String(torchThreads?.matmul_gflops ?? null),
  ],
  [
    "conv 3x3 64ch fwd (GFLOP/s)",
    String(summary.conv_fwd_gflops),
    String(summary.torch_conv_fwd_gflops),
    String(torchThreads?.conv_fwd_gflops ?? null),
  ],
  [
    "conv 3x3 64ch bwd (GFLOP/s)",
    String(summary.conv_bwd_gflops),
    String(summary.torch_conv_bwd_gflops),
    String(torchThreads?.conv_bwd_gflops ?? null),
  ],
  ...configNames.map((n): [string, string, string, string] => [
    `DCGAN step ${n} (ms)`,
    String(stepMs[n]),
    String(torch?.step_ms[n] ?? null),
    String(torchThreads?.step_ms[n] ?? null),
  ]),
];
const torchName = `torch ${summary.torch_device ?? ""}`;
console.log(
  `${"".padEnd(30)}${"engine".padStart(12)}${torchName.padStart(16)}${
    `${torchName} x${engineThreads}`.padStart(18)
  }`,
);
for (const [what, ours, theirs, threaded] of rows) {
  console.log(
    `${what.padEnd(30)}${ours.padStart(12)}${theirs.padStart(16)}${threaded.padStart(18)}`,
  );
}
if (blasGflops !== null) {
  console.log(
    `OpenBLAS alone: ${roundTo(blasGflops, 2)} GFLOP/s (engine matmul ${summary.matmul_of_blas}x)`,
  );
}
console.log(`peak memory: ${(summary.peak_bytes / 2 ** 20).toFixed(1)} MiB`);
console.log(JSON.stringify(summary));
