/**
 * The training state of an encoder run: the encoder E and its optimiser,
 * trained against one frozen generator G (and its discriminator D, whose
 * features compare photos with their reconstructions), with one method per
 * thing the loop does: a step, reconstructions, a snapshot and a restore.
 *
 * Each step minimises, for a batch of photos x and of latents z ~ N(0, 1),
 *
 *   pixel * |G(E(x)) - x|^2 + features * mean_l |D_l(G(E(x))) - D_l(x)|^2
 *     + cycle * |E(G(z)) - z|^2
 *
 * (means over elements). G and D run in inference mode and are never
 * updated; the gradient flows through G into E. The cycle keeps E's latents
 * where G's training latents lie, so edits of an encoded photo behave like
 * edits of a generated face. Batch-norm statistics of E follow the photos
 * only: the cycle's batches do not move them.
 *
 * @module
 */

import { valueAndGrad } from "../engine/autograd.ts";
import { Adam } from "../engine/optim/adam.ts";
import { add, mul, square, sub } from "../engine/ops/elementwise.ts";
import { mean } from "../engine/ops/reduce.ts";
import { RandomStream } from "../engine/random.ts";
import { keep, type Tensor, tensor } from "../engine/tensor.ts";
import type { RandomStreamState } from "../engine/random.ts";
import {
  adamUpdate,
  CheckpointError,
  loadCheckpointTensors,
  loadServingGenerator,
  networkUpdates,
  putAdam,
  putNetwork,
  tensorCollector,
} from "../checkpoint.ts";
import { DataError, type ImageSet } from "../data/image_set.ts";
import {
  batchPixels,
  BatchSampler,
  SamplerCountError,
  type SamplerState,
} from "../data/sampler.ts";
import { GanDiscriminator } from "../networks/discriminator.ts";
import { GanEncoder } from "../networks/encoder.ts";
import { GanGenerator } from "../networks/generator.ts";
import type { Safetensors } from "../safetensors.ts";
import type { EncoderConfig } from "./config.ts";

/** Format tag of encoder checkpoints. */
export const ENCODER_CHECKPOINT_FORMAT = "interpretable-gan-encoder-checkpoint/2";

/** The formats read: version 1 was written before checkpoints had to carry a whole-file checksum. */
const READ_FORMATS: readonly string[] = [
  ENCODER_CHECKPOINT_FORMAT,
  "interpretable-gan-encoder-checkpoint/1",
];

/** Prefix of the encoder's tensors in its checkpoints. */
export const ENCODER_PREFIX = "encoder";

const OPTIMIZER_PREFIX = "optimizer_e";

/** Adam's beta1 of the encoder (no adversary: the usual momentum is stable). */
const BETA1 = 0.9;

/** The non-tensor part of an encoder checkpoint. */
interface EncoderState {
  step: number;
  seconds: number;
  latentRng: RandomStreamState;
  sampler: SamplerState;
  optimizerSteps: Record<string, number>;
}

/** Losses of a step (one-element tensors owned by the caller's scope). */
export interface EncoderLosses {
  loss: Tensor;
  pixel: Tensor;
  features: Tensor;
  cycle: Tensor;
}

/** The encoder, its optimiser and data order, against a frozen G and D. */
export class EncoderTrainer {
  readonly config: EncoderConfig;
  readonly encoder: GanEncoder;
  readonly generator: GanGenerator;
  readonly discriminator: GanDiscriminator;
  readonly optimizer: Adam;
  readonly #set: ImageSet;
  #latentRng: RandomStream;
  #sampler: BatchSampler;
  #step = 0;
  #secondsBefore = 0;
  #sittingStart = performance.now();

  /** A fresh run of `config` on `set`, inverting the generator of checkpoint `gan`. */
  constructor(config: EncoderConfig, set: ImageSet, gan: Safetensors) {
    const { network } = config;
    if (set.resolution !== network.resolution) {
      throw new DataError(
        `the data is ${set.resolution}x${set.resolution} but the generator draws ` +
          `${network.resolution}x${network.resolution}.`,
      );
    }
    if (set.count - config.holdout < config.batch) {
      throw new DataError(
        `too few images to train on: ${set.count} in the data less ${config.holdout} held out ` +
          `is fewer than a batch of ${config.batch}: give more images, or a smaller --holdout ` +
          "or --batch.",
      );
    }
    this.config = config;
    this.#set = set;
    this.generator = new GanGenerator(new RandomStream(0), network);
    this.discriminator = new GanDiscriminator(new RandomStream(0), network);
    this.encoder = new GanEncoder(new RandomStream(config.seed * 2), {
      resolution: network.resolution,
      width: config.width,
      latent: network.latent,
    });
    try {
      loadServingGenerator(this.generator, gan, {
        trainedWeights: config.generator.trainedWeights,
      });
      const D = this.discriminator;
      loadCheckpointTensors(
        gan,
        (take) => networkUpdates("discriminator", D.parameters(), D.norms(), take),
      );
    } catch (error) {
      this.dispose();
      throw error;
    }
    this.optimizer = new Adam({ lr: config.lr, beta1: BETA1 });
    this.#latentRng = new RandomStream(config.seed * 2 + 1);
    this.#sampler = new BatchSampler(this.trainingCount, {
      flip: config.flip,
      state: { seed: config.seed, epoch: 0, cursor: 0 },
    });
  }

  /** Images trained on: the data's first `count - holdout`. */
  get trainingCount(): number {
    return this.#set.count - this.config.holdout;
  }

  /** Steps done. */
  get step(): number {
    return this.#step;
  }

  /** Training time so far, over all sittings, in seconds. */
  get seconds(): number {
    return this.#secondsBefore + (performance.now() - this.#sittingStart) / 1000;
  }

  /** One update of the encoder. */
  trainStep(): EncoderLosses {
    const { batch, network, weights } = this.config;
    const s = network.resolution;
    const photos = tensor(batchPixels(this.#set, this.#sampler.next(batch)), [batch, 3, s, s]);
    const z = this.#latentRng.normal([batch, network.latent]);
    const frozen = { training: false };
    const generated = this.generator.forward(z, frozen);
    const photoFeatures = this.discriminator.features(photos, frozen);
    const E = this.encoder, params = E.parameters();
    const parts: Tensor[] = [];
    const result = valueAndGrad(() => {
      const reconstruction = this.generator.forward(E.forward(photos, { training: true }), frozen);
      const pixel = mean(square(sub(reconstruction, photos)));
      const features = this.discriminator.features(reconstruction, frozen)
        .map((f, l) => mean(square(sub(f, photoFeatures[l]))))
        .reduce((a, b) => add(a, b));
      const cycle = mean(
        square(sub(E.forward(generated, { training: true, normMomentum: 0 }), z)),
      );
      parts.push(keep(pixel), keep(mul(features, 1 / photoFeatures.length)), keep(cycle));
      const [p, f, c] = parts;
      return add(add(mul(p, weights.pixel), mul(f, weights.features)), mul(c, weights.cycle));
    }, params.map((p) => p.value));
    this.optimizer.step(params, result.grads);
    for (const g of result.grads) g.dispose();
    this.#step++;
    // Views in the caller's scope; the kept originals are freed here.
    const [pixel, features, cycle] = parts.map((t) => {
      const view = t.view(t.shape);
      t.dispose();
      return view;
    });
    return { loss: result.value, pixel, features, cycle };
  }

  /** Latents [B, Z] of images [B, 3, S, S] in [-1, 1] (inference mode). */
  encode(images: Tensor): Tensor {
    return this.encoder.forward(images, { training: false });
  }

  /** G(E(images)) in inference mode. */
  reconstruct(images: Tensor): Tensor {
    return this.generator.forward(this.encode(images), { training: false });
  }

  /** Everything needed to continue, read back from the device. */
  async snapshot(): Promise<Safetensors> {
    const { tensors, put } = tensorCollector();
    await putNetwork(ENCODER_PREFIX, this.encoder.parameters(), this.encoder.norms(), put);
    const state: EncoderState = {
      step: this.#step,
      seconds: this.seconds,
      latentRng: this.#latentRng.state(),
      sampler: this.#sampler.state(),
      optimizerSteps: await putAdam(OPTIMIZER_PREFIX, this.optimizer, put),
    };
    return {
      tensors,
      metadata: {
        format: ENCODER_CHECKPOINT_FORMAT,
        config: JSON.stringify(this.config),
        state: JSON.stringify(state),
      },
    };
  }

  /**
   * Starts from another encoder run's weights and batch-norm statistics
   * (`config.initFrom`); its step, data order and optimiser are not taken.
   */
  initFrom(checkpoint: Safetensors): void {
    loadEncoderWeights(this.encoder, checkpoint);
  }

  /** Continues from a {@link snapshot} of a run with the same encoder. */
  restore(checkpoint: Safetensors): void {
    const state = encoderState(checkpoint);
    const E = this.encoder;
    loadCheckpointTensors(checkpoint, (take) => [
      ...networkUpdates(ENCODER_PREFIX, E.parameters(), E.norms(), take),
      adamUpdate(OPTIMIZER_PREFIX, this.optimizer, E.parameters(), state.optimizerSteps, take),
    ]);
    this.#latentRng = RandomStream.fromState(state.latentRng);
    try {
      this.#sampler = new BatchSampler(this.trainingCount, {
        flip: this.config.flip,
        state: state.sampler,
        drawn: state.step * this.config.batch,
      });
    } catch (error) {
      if (!(error instanceof SamplerCountError)) throw error;
      throw new DataError(
        `the data has ${error.count} photos to train on besides the ${this.config.holdout} ` +
          `held out, but the run trained on ${error.trained}: resuming needs the run's own ` +
          "photos; put them back, or train a new encoder on these.",
      );
    }
    this.#step = state.step;
    this.#secondsBefore = state.seconds;
    this.#sittingStart = performance.now();
  }

  /** Frees every device tensor the trainer owns. */
  dispose(): void {
    this.encoder.dispose();
    this.generator.dispose();
    this.discriminator.dispose();
    this.optimizer?.dispose();
  }
}

/** The state in an encoder checkpoint's metadata; throws {@link CheckpointError}. */
export function encoderState(checkpoint: Safetensors): EncoderState {
  if (!READ_FORMATS.includes(checkpoint.metadata.format)) {
    throw new CheckpointError(
      `the checkpoint's format is "${checkpoint.metadata.format}", expected an encoder ` +
        `checkpoint ("${ENCODER_CHECKPOINT_FORMAT}").`,
    );
  }
  return JSON.parse(checkpoint.metadata.state) as EncoderState;
}

/** An encoder checkpoint's config; throws {@link CheckpointError}. */
export function encoderCheckpointConfig(checkpoint: Safetensors): EncoderConfig {
  encoderState(checkpoint);
  return JSON.parse(checkpoint.metadata.config) as EncoderConfig;
}

/** Loads an encoder checkpoint's weights and statistics into `encoder`. */
export function loadEncoderWeights(encoder: GanEncoder, checkpoint: Safetensors): void {
  encoderState(checkpoint);
  loadCheckpointTensors(
    checkpoint,
    (take) => networkUpdates(ENCODER_PREFIX, encoder.parameters(), encoder.norms(), take),
  );
}
