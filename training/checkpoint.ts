/**
 * The checkpoint format of training runs, and reading it: the trainer state
 * in the metadata, and network weights loaded so that a checkpoint that does
 * not fit changes nothing. Export and evaluation read checkpoints through
 * this module without the trainer.
 *
 * Tensor names: `generator.<param>`, `generator_ema.<param>` (the average of
 * the generator's weights, when the run keeps one), `discriminator.<param>`,
 * `<net>.<norm>.running_mean|running_var`, `optimizer_g|optimizer_d.<param>.exp_avg|exp_avg_sq`,
 * and for interpretable runs `energy.weight` (W, [K, M, C]) and `gmm.means` ([C, K]).
 * Metadata: `format`, `config` (JSON `TrainConfig`) and `state` (JSON {@link TrainerState}).
 *
 * @module
 */

import type { BatchNorm2d } from "./engine/nn.ts";
import type { Adam, AdamSlot } from "./engine/optim/adam.ts";
import type { Parameter } from "./engine/optim/parameter.ts";
import type { RandomStreamState } from "./engine/random.ts";
import { keep, type Tensor, tensor } from "./engine/tensor.ts";
import type { SamplerState } from "./data/sampler.ts";
import { recalibrateNorms } from "./networks/average.ts";
import type { GanGenerator } from "./networks/generator.ts";
import type { HostTensor, Safetensors } from "./safetensors.ts";
import { ConfigError, resolveStoredConfig, type TrainConfig } from "./config.ts";
import { UserError } from "../core/user_error.ts";

/** Format tag of checkpoints written by `GanTrainer.snapshot`. */
export const CHECKPOINT_FORMAT = "interpretable-gan-checkpoint/2";

/** The formats read: version 1 was written before checkpoints had to carry a whole-file checksum. */
const READ_FORMATS: readonly string[] = [CHECKPOINT_FORMAT, "interpretable-gan-checkpoint/1"];

/** The non-tensor part of a checkpoint. */
export interface TrainerState {
  /** Generator steps done. */
  step: number;
  /** Training time so far, over all sittings, in seconds. */
  seconds: number;
  /** The devices the run has trained on (WebGPU adapters, or the CPU backend's BLAS), over all sittings (absent in older checkpoints). */
  hardware?: string[];
  latentRng: RandomStreamState;
  sampler: SamplerState;
  /** Adam's per-parameter step counts, by optimiser and parameter name. */
  optimizerSteps: { optimizer_g: Record<string, number>; optimizer_d: Record<string, number> };
  /** The interpretable GAN's partition and schedule position (W is a tensor). */
  interpretability?: {
    assignment: number[];
    updates: number;
    /** The last GMM fit's variances and weights (its means are a tensor); null before one. */
    gmm: { variances: number[]; weights: number[] } | null;
  };
}

/** A checkpoint that does not fit this run. */
export class CheckpointError extends UserError {
  override name = "CheckpointError";
}

/**
 * Sets a generator's weights and batch-norm statistics from a checkpoint's
 * `generator.*` tensors; throws {@link CheckpointError} (changing nothing)
 * when one is missing or has another shape.
 */
export function loadGeneratorWeights(generator: GanGenerator, checkpoint: Safetensors): void {
  loadCheckpointTensors(
    checkpoint,
    (take) => networkUpdates("generator", generator.parameters(), generator.norms(), take),
  );
}

/** Prefix of the averaged generator's weights in checkpoints. */
export const AVERAGE_PREFIX = "generator_ema";

/** Whether the checkpoint holds an average of the generator's weights. */
export function hasAverage(checkpoint: Safetensors): boolean {
  return Object.keys(checkpoint.tensors).some((name) => name.startsWith(`${AVERAGE_PREFIX}.`));
}

/**
 * Sets up the generator that samples, evaluation and export use: the
 * checkpoint's average of the weights with batch-norm statistics recomputed
 * for it when the run kept one, else (or with `trainedWeights`) its trained
 * weights and statistics.
 */
export function loadServingGenerator(
  generator: GanGenerator,
  checkpoint: Safetensors,
  options: { trainedWeights?: boolean } = {},
): void {
  if (options.trainedWeights || !hasAverage(checkpoint)) {
    return loadGeneratorWeights(generator, checkpoint);
  }
  loadCheckpointTensors(
    checkpoint,
    (take) => networkUpdates(AVERAGE_PREFIX, generator.parameters(), [], take),
  );
  recalibrateNorms(generator);
}

/** Uploads checkpoint tensor `name` after checking it has `shape`. */
export type TakeTensor = (name: string, shape: readonly number[]) => Tensor;

/**
 * Loads checkpoint tensors in two phases so that a bad checkpoint changes
 * nothing: `collect` takes every tensor it needs (shape-checked, uploaded)
 * and returns the updates that install them; they run only if every take
 * succeeded, and otherwise the uploaded tensors are freed.
 */
export function loadCheckpointTensors(
  checkpoint: Safetensors,
  collect: (take: TakeTensor) => (() => void)[],
): void {
  const created: Tensor[] = [];
  const take: TakeTensor = (name, shape) => {
    const host = checkpoint.tensors[name];
    if (!host) throw new CheckpointError(`the checkpoint has no tensor "${name}".`);
    if (host.shape.join() !== shape.join()) {
      throw new CheckpointError(
        `"${name}" is [${host.shape.join(", ")}] in the checkpoint, [${shape.join(", ")}] in ` +
          "this model: the checkpoint belongs to other network sizes.",
      );
    }
    const t = keep(tensor(host.data, host.shape));
    created.push(t);
    return t;
  };
  let updates: (() => void)[];
  try {
    updates = collect(take);
  } catch (error) {
    for (const t of created) t.dispose();
    throw error;
  }
  for (const update of updates) update();
}

/**
 * Runs `load` (a trainer taking a checkpoint's tensors); a tensor that is
 * missing or of another shape is reported naming the checkpoint `file`, with
 * `why` it does not fit.
 */
export function loadingCheckpoint(file: string, why: string, load: () => void): void {
  try {
    load();
  } catch (error) {
    if (!(error instanceof CheckpointError)) throw error;
    throw new CheckpointError(`${file}: ${error.message.replace(/\.$/, "")}: ${why}`);
  }
}

/** The updates that install a network's weights and batch-norm statistics from `<prefix>.*`. */
export function networkUpdates(
  prefix: string,
  params: readonly Parameter[],
  norms: readonly BatchNorm2d[],
  take: TakeTensor,
): (() => void)[] {
  const updates: (() => void)[] = [];
  for (const p of params) {
    const value = take(`${prefix}.${p.name}`, p.shape);
    updates.push(() => p.replace(value));
  }
  for (const n of norms) {
    const mean = take(`${prefix}.${n.name}.running_mean`, [n.state.channels]);
    const variance = take(`${prefix}.${n.name}.running_var`, [n.state.channels]);
    updates.push(() => n.state.replace(mean, variance));
  }
  return updates;
}

/** Reads tensor `t` back to the host as checkpoint tensor `name`. */
export type PutTensor = (name: string, t: Tensor) => Promise<void>;

/** Host tensors of a snapshot being written, and the {@link PutTensor} that reads them back. */
export function tensorCollector(): { tensors: Record<string, HostTensor>; put: PutTensor } {
  const tensors: Record<string, HostTensor> = {};
  return {
    tensors,
    put: async (name, t) => {
      tensors[name] = { shape: [...t.shape], data: await t.data() };
    },
  };
}

/** Puts a network's weights and batch-norm statistics as `<prefix>.*`. */
export async function putNetwork(
  prefix: string,
  params: readonly Parameter[],
  norms: readonly BatchNorm2d[],
  put: PutTensor,
): Promise<void> {
  for (const p of params) await put(`${prefix}.${p.name}`, p.value);
  for (const n of norms) {
    await put(`${prefix}.${n.name}.running_mean`, n.state.runningMean);
    await put(`${prefix}.${n.name}.running_var`, n.state.runningVar);
  }
}

/**
 * Puts Adam's moments as `<prefix>.<param>.exp_avg|exp_avg_sq`; returns its
 * per-parameter step counts, which go into the metadata.
 */
export async function putAdam(
  prefix: string,
  opt: Adam,
  put: PutTensor,
): Promise<Record<string, number>> {
  const steps: Record<string, number> = {};
  for (const [name, slot] of Object.entries(opt.state().slots)) {
    await put(`${prefix}.${name}.exp_avg`, slot.m);
    await put(`${prefix}.${name}.exp_avg_sq`, slot.v);
    steps[name] = slot.step;
  }
  return steps;
}

/** The update that installs Adam's state as {@link putAdam} stored it. */
export function adamUpdate(
  prefix: string,
  opt: Adam,
  params: readonly Parameter[],
  steps: Record<string, number>,
  take: TakeTensor,
): () => void {
  const slots: Record<string, AdamSlot> = {};
  for (const p of params) {
    const step = steps[p.name];
    if (step === undefined) continue;
    slots[p.name] = {
      step,
      m: take(`${prefix}.${p.name}.exp_avg`, p.shape),
      v: take(`${prefix}.${p.name}.exp_avg_sq`, p.shape),
    };
  }
  return () => {
    opt.loadState({ slots });
    for (const slot of Object.values(slots)) [slot.m, slot.v].forEach((t) => t.dispose());
  };
}

/** The training config stored in a GAN checkpoint's metadata (`file` names it in errors). */
export function checkpointConfig(checkpoint: Safetensors, file: string): TrainConfig {
  checkpointState(checkpoint);
  try {
    return resolveStoredConfig(JSON.parse(checkpoint.metadata.config));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new CheckpointError(`${file} holds no readable training config.`);
  }
}

/** The trainer state stored in a checkpoint's metadata. */
export function checkpointState(checkpoint: Safetensors): TrainerState {
  if (!READ_FORMATS.includes(checkpoint.metadata.format)) {
    throw new CheckpointError(
      `the checkpoint's format is "${checkpoint.metadata.format}", expected "${CHECKPOINT_FORMAT}"` +
        (/encoder/.test(checkpoint.metadata.format ?? "")
          ? ": it is an encoder's (deno task train:encoder), not a GAN's."
          : "."),
    );
  }
  try {
    return JSON.parse(checkpoint.metadata.state) as TrainerState;
  } catch {
    throw new CheckpointError(
      "the checkpoint's training state (its metadata's state) is missing or not JSON: the file " +
        "was not written by deno task train.",
    );
  }
}
