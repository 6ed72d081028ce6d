/**
 * The training loop: steps a {@link GanTrainer} to the configured step count,
 * logging metrics to `log.jsonl`, writing sample grids and checkpoints into
 * the run folder, and stopping cleanly (after a checkpoint) when its signal
 * is aborted.
 *
 * @module
 */

import { writeFileAtomic } from "./atomic_file.ts";
import { memoryStats } from "./engine/engine.ts";
import { asyncScope, keep, type Tensor } from "./engine/tensor.ts";
import type { ImageSet } from "./data/image_set.ts";
import { encodePng, imageGrid, imagesFromPlanar, type RgbImage } from "../core/image.ts";
import { Progress } from "../core/progress.ts";
import {
  appendLog,
  listCheckpoints,
  type RunFolder,
  saveCheckpoint,
  writingRun,
} from "./run_folder.ts";
import { type GanTrainer, seededStream } from "./trainer.ts";
import type { InterpretabilityReport } from "./interpretable/module.ts";
import { roundTo } from "../core/numbers.ts";
import { UserError } from "../core/user_error.ts";

/** Images in a sample grid (8 x 8). */
export const SAMPLE_COUNT = 64;

/** What one logged step reports (a line of log.jsonl). */
export interface LogRecord {
  step: number;
  /** Training time so far in seconds, over all sittings. */
  seconds: number;
  /** D's loss, its R1 penalty included. */
  lossD: number;
  lossG: number;
  /** D's R1 penalty (`config.r1Gamma` > 0 only). */
  r1?: number;
  /** Training images per second since the previous record. */
  imagesPerSecond: number;
  /** Device bytes held by live tensors (GPU buffers, or host arrays on the CPU backend). */
  gpuBytes: number;
}

/** Losses became NaN or infinite. */
export class TrainingDivergedError extends UserError {
  override name = "TrainingDivergedError";
}

/** Options of {@link trainLoop}. */
export interface TrainLoopOptions {
  trainer: GanTrainer;
  run: RunFolder;
  /** Aborting it stops the loop after the current step, with a checkpoint. */
  signal?: AbortSignal;
  progress?: Progress;
  /** Stop at this step instead of the configured total (the run can be resumed). */
  stopAt?: number;
  /** Called with each log record. */
  onLog?: (record: LogRecord) => void;
  /** Called with the figures of each interpretability step. */
  onInterpretability?: (report: InterpretabilityReport) => void;
}

/** How a {@link trainLoop} call ended. */
export interface TrainOutcome {
  step: number;
  interrupted: boolean;
  /** The checkpoint written last. */
  checkpoint: string;
  /** The last log record, if any step was logged. */
  last?: LogRecord;
}

/** Trains until the configured (or `stopAt`) step, or until `signal` aborts. */
export async function trainLoop(options: TrainLoopOptions): Promise<TrainOutcome> {
  const { trainer, run, signal } = options;
  const config = trainer.config;
  const end = Math.min(options.stopAt ?? config.steps, config.steps);
  const progress = options.progress ??
    new Progress("step", config.steps, { startDone: trainer.step, unit: "step" });
  const sampleZ = keep(
    seededStream(config.seed, "sampleLatents").normal([SAMPLE_COUNT, config.network.latent]),
  );
  try {
    if (trainer.step === 0 && config.discriminatorWarmup > 0) {
      await warmUpDiscriminator(trainer, run, progress, signal);
    }
    let last: LogRecord | undefined;
    let lossText = "";
    let mark = { step: trainer.step, seconds: trainer.seconds };
    while (trainer.step < end && !signal?.aborted) {
      const logNow = (trainer.step + 1) % config.logEvery === 0 || trainer.step + 1 === end;
      const losses = await asyncScope(async () => {
        const { lossD, lossG, r1 } = trainer.trainStep();
        if (!logNow) return null;
        return { lossD: await lossD.item(), lossG: await lossG.item(), r1: await r1?.item() };
      });
      const step = trainer.step;
      // Lets signal handlers run between steps that do not wait for the GPU.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (losses) {
        const { lossD, lossG, r1 } = losses;
        const seconds = trainer.seconds;
        last = {
          step,
          seconds: roundTo(seconds, 3),
          lossD: roundTo(lossD, 5),
          lossG: roundTo(lossG, 5),
          ...(r1 === undefined ? {} : { r1: roundTo(r1, 5) }),
          imagesPerSecond: roundTo(
            ((step - mark.step) * config.batch) / (seconds - mark.seconds),
            2,
          ),
          gpuBytes: memoryStats().liveBytes,
        };
        mark = { step, seconds };
        await writingRun(run, "log.jsonl", () => appendLog(run, { ...last }));
        options.onLog?.(last);
        if (!Number.isFinite(lossD) || !Number.isFinite(lossG)) {
          const saved = (await listCheckpoints(run)).at(-1);
          throw new TrainingDivergedError(
            `the losses became non-finite at step ${step} (D ${lossD}, G ${lossG}). ` +
              (saved
                ? `The last checkpoint is step ${saved.step}; lower the learning rates and resume from it.`
                : "No checkpoint was written yet; lower the learning rates and start again."),
          );
        }
        lossText = `D ${lossD.toFixed(3)} G ${lossG.toFixed(3)}` +
          (r1 === undefined ? "" : ` R1 ${r1.toFixed(3)}`);
      }
      if (trainer.interpretabilityDue) {
        const report = await trainer.interpretabilityStep();
        if (![report.energyData, report.energyModel, report.interpLoss].every(Number.isFinite)) {
          throw new TrainingDivergedError(
            `the energy model diverged at step ${step} (g_W data ${report.energyData}, model ` +
              `${report.energyModel}); lower interpretable.energyLr or langevinStepSize and resume ` +
              "from the last checkpoint.",
          );
        }
        const record = { step, interpretability: roundAll(report) };
        await writingRun(run, "log.jsonl", () => appendLog(run, record));
        progress.message(
          `step ${step}: interpretability step, consistency ${report.consistency.toFixed(3)}, ` +
            `separation ${report.separation.toFixed(3)}, fixed filters ${report.fixedFilters}, ` +
            `g_W data ${report.energyData.toPrecision(3)} ` +
            `model ${report.energyModel.toPrecision(3)}, lambda3 ${
              report.lambda3.toExponential(1)
            }`,
        );
        options.onInterpretability?.(report);
      }
      progress.update(step, lossText, losses !== null);
      if (step % config.sampleEvery === 0 || step === config.steps) {
        await writingRun(
          run,
          `the sample grid of step ${step}`,
          () => writeSamples(trainer, sampleZ, run.sampleFile(step)),
        );
      }
      if (step % config.checkpointEvery === 0 && step !== end) await saveCheckpoint(trainer, run);
    }
    const checkpoint = await saveCheckpoint(trainer, run);
    return { step: trainer.step, interrupted: trainer.step < end, checkpoint, last };
  } finally {
    progress.finish(); // also when a step fails: its error line starts on a line of its own
    sampleZ.dispose();
  }
}

/**
 * The discriminator's updates alone before a fine-tune's first generator
 * step (`config.discriminatorWarmup`), logged every `logEvery` of them (a
 * log record `{ warmup, lossD }`). A run resumed past step 0 has had them;
 * one stopped during them redoes them on resume.
 */
async function warmUpDiscriminator(
  trainer: GanTrainer,
  run: RunFolder,
  progress: Progress,
  signal: AbortSignal | undefined,
): Promise<void> {
  const { discriminatorWarmup: steps, logEvery } = trainer.config;
  for (let k = 1; k <= steps && !signal?.aborted; k++) {
    const logNow = k % logEvery === 0 || k === steps;
    const lossD = await asyncScope(async () => {
      const loss = trainer.discriminatorWarmupStep();
      return logNow ? await loss.item() : null;
    });
    await new Promise((resolve) => setTimeout(resolve, 0)); // lets a stop signal through
    if (lossD === null) continue;
    if (!Number.isFinite(lossD)) {
      throw new TrainingDivergedError(
        `the discriminator's loss became non-finite in its warm-up (update ${k}: ${lossD}); ` +
          "lower --lr-d and start again.",
      );
    }
    await writingRun(
      run,
      "log.jsonl",
      () => appendLog(run, { warmup: k, lossD: roundTo(lossD, 5) }),
    );
    progress.message(`discriminator warm-up ${k}/${steps}: D ${lossD.toFixed(3)}`);
  }
}

/** An 8-column grid of the generator's images for latents `z`, as PNG bytes. */
export async function sampleGridPng(trainer: GanTrainer, z: Tensor): Promise<Uint8Array> {
  const s = trainer.config.network.resolution;
  const values = await asyncScope(() => trainer.sample(z).data());
  return encodePng(imageGrid(imagesFromPlanar(values, z.shape[0], s), 8));
}

async function writeSamples(trainer: GanTrainer, z: Tensor, file: string): Promise<void> {
  await writeFileAtomic(file, await sampleGridPng(trainer, z));
}

/** A grid of the first {@link SAMPLE_COUNT} images of a set, as PNG bytes. */
export function realsGridPng(set: ImageSet): Uint8Array {
  const plane = set.resolution * set.resolution * 3;
  const images: RgbImage[] = [];
  for (let k = 0; k < Math.min(SAMPLE_COUNT, set.count); k++) {
    images.push({
      width: set.resolution,
      height: set.resolution,
      data: set.pixels.subarray(k * plane, (k + 1) * plane),
    });
  }
  return encodePng(imageGrid(images, 8));
}

/** The report with its numbers to 6 significant digits, for the log. */
function roundAll(report: InterpretabilityReport): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(report).map((
      [k, v],
    ) => [k, typeof v === "number" ? Number(v.toPrecision(6)) : v]),
  );
}
