/**
 * The encoder's training loop: steps an {@link EncoderTrainer} to the
 * configured step count, logging losses and, at sample steps, the mean PSNR
 * of the held-out photos' reconstructions (`{step, holdoutPsnr}`) to `log.jsonl`, writing grids of
 * held-out photos over their reconstructions and checkpoints into the run
 * folder, and stopping cleanly (after a checkpoint) when its signal aborts.
 *
 * @module
 */

import { writeFileAtomic } from "../atomic_file.ts";
import { asyncScope, type Tensor, tensor } from "../engine/tensor.ts";
import { DataError, type ImageSet } from "../data/image_set.ts";
import { batchPixels } from "../data/sampler.ts";
import { encodePng, imageGrid, imagesFromPlanar } from "../../core/image.ts";
import type { Progress } from "../../core/progress.ts";
import { psnrs } from "../../faces/reconstruction.ts";
import {
  appendLog,
  listCheckpoints,
  type RunFolder,
  saveCheckpoint,
  writingRun,
} from "../run_folder.ts";
import { TrainingDivergedError } from "../train.ts";
import type { EncoderTrainer } from "./trainer.ts";
import { roundTo } from "../../core/numbers.ts";

/** Held-out photos in each sample grid (two rows of photos over their reconstructions). */
const GRID_PHOTOS = 32;
/** Photos per batch when reconstructing the held-out set. */
const EVAL_BATCH = 50;

/** One logged step (a line of log.jsonl). */
export interface EncoderLogRecord {
  step: number;
  seconds: number;
  loss: number;
  pixel: number;
  features: number;
  cycle: number;
  imagesPerSecond: number;
}

/** Options of {@link trainEncoderLoop}. */
export interface EncoderLoopOptions {
  trainer: EncoderTrainer;
  run: RunFolder;
  /** The data the trainer trains on; its last `holdout` images are measured. */
  set: ImageSet;
  signal?: AbortSignal;
  progress: Progress;
  onLog?: (record: EncoderLogRecord) => void;
}

/** The held-out photos of `set` (its last `holdout` images), planar in [-1, 1]. */
export function holdoutPhotos(set: ImageSet, holdout: number): Float32Array {
  if (!Number.isInteger(holdout) || holdout < 1 || holdout > set.count) {
    throw new DataError(
      `cannot hold out ${holdout} images of a data set of ${set.count}: --holdout takes 1 to ` +
        `${set.count}.`,
    );
  }
  const indices = Array.from({ length: holdout }, (_, k) => set.count - holdout + k);
  return batchPixels(set, { indices, flips: indices.map(() => false) });
}

/** Reconstructions G(E(x)) of planar photos, in batches. */
export async function reconstructAll(
  trainer: EncoderTrainer,
  photos: Float32Array,
  n: number,
): Promise<Float32Array> {
  const s = trainer.config.network.resolution, plane = 3 * s * s;
  const out = new Float32Array(n * plane);
  for (let start = 0; start < n; start += EVAL_BATCH) {
    const count = Math.min(EVAL_BATCH, n - start);
    const batch = photos.subarray(start * plane, (start + count) * plane);
    out.set(
      await asyncScope(() => trainer.reconstruct(tensor(batch, [count, 3, s, s])).data()),
      start * plane,
    );
  }
  return out;
}

/** Trains until the configured step or until `signal` aborts; returns the last checkpoint. */
export async function trainEncoderLoop(
  options: EncoderLoopOptions,
): Promise<{ step: number; interrupted: boolean; checkpoint: string }> {
  const { trainer, run, signal, progress } = options;
  const config = trainer.config;
  const photos = holdoutPhotos(options.set, config.holdout);
  let mark = { step: trainer.step, seconds: trainer.seconds };
  // The progress line's figures: the last logged losses, then the last held-out PSNR.
  let lossText = "", psnrText = "";
  try {
    while (trainer.step < config.steps && !signal?.aborted) {
      const logNow = (trainer.step + 1) % config.logEvery === 0 ||
        trainer.step + 1 === config.steps;
      const losses = await asyncScope(async () => {
        const step = trainer.trainStep();
        if (!logNow) return null;
        const read = (t: Tensor) => t.item();
        return {
          loss: await read(step.loss),
          pixel: await read(step.pixel),
          features: await read(step.features),
          cycle: await read(step.cycle),
        };
      });
      await new Promise((resolve) => setTimeout(resolve, 0)); // lets signal handlers run
      const step = trainer.step;
      const sampleNow = step % config.sampleEvery === 0 || step === config.steps;
      if (losses) {
        const seconds = trainer.seconds;
        const record: EncoderLogRecord = {
          step,
          seconds: roundTo(seconds, 3),
          ...losses,
          imagesPerSecond: roundTo(
            ((step - mark.step) * config.batch) / (seconds - mark.seconds),
            2,
          ),
        };
        mark = { step, seconds };
        await writingRun(run, "log.jsonl", () => appendLog(run, { ...record }));
        options.onLog?.(record);
        if (!Number.isFinite(losses.loss)) {
          const saved = (await listCheckpoints(run)).at(-1);
          throw new TrainingDivergedError(
            `the encoder's loss became non-finite at step ${step}; lower --lr and ` +
              (saved ? `resume from ${saved.file}.` : "start again."),
          );
        }
        lossText = `loss ${losses.loss.toFixed(4)} pixel ${losses.pixel.toFixed(4)}`;
      }
      if (sampleNow && config.holdout > 0) {
        const reconstructions = await reconstructAll(trainer, photos, config.holdout);
        const values = psnrs(reconstructions, photos, config.holdout);
        const holdoutPsnr = roundTo(values.reduce((a, b) => a + b, 0) / values.length, 3);
        await writingRun(run, "log.jsonl", () => appendLog(run, { step, holdoutPsnr }));
        await writingRun(
          run,
          `the sample grid of step ${step}`,
          () => writeFileAtomic(run.sampleFile(step), gridPng(trainer, photos, reconstructions)),
        );
        psnrText = `, held-out PSNR ${holdoutPsnr.toFixed(2)} dB`;
      }
      progress.update(step, lossText + psnrText, losses !== null || sampleNow);
      if (step % config.checkpointEvery === 0 && step !== config.steps) {
        await saveCheckpoint(trainer, run);
      }
    }
    const checkpoint = await saveCheckpoint(trainer, run);
    return { step: trainer.step, interrupted: trainer.step < config.steps, checkpoint };
  } finally {
    progress.finish();
  }
}

/** Rows of 8 held-out photos, each over a row of their reconstructions, as PNG bytes. */
function gridPng(
  trainer: EncoderTrainer,
  photos: Float32Array,
  reconstructions: Float32Array,
): Uint8Array {
  const s = trainer.config.network.resolution;
  const count = Math.min(GRID_PHOTOS, trainer.config.holdout);
  const a = imagesFromPlanar(photos, count, s), b = imagesFromPlanar(reconstructions, count, s);
  const rows = [];
  for (let k = 0; k < count; k += 8) rows.push(...a.slice(k, k + 8), ...b.slice(k, k + 8));
  return encodePng(imageGrid(rows, 8));
}
