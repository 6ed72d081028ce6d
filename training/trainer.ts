/**
 * The training state of a GAN run, with one method per thing the loop does
 * to it: a training step, a snapshot to a checkpoint, a restore from one, and
 * samples. Everything that decides the next steps (weights, batch-norm
 * statistics, Adam moments, latent RNG, data order, step) is in the snapshot,
 * so a restored trainer continues exactly as the original would have. The
 * checkpoint format is `checkpoint.ts`.
 *
 * @module
 */

import { getEngine } from "./engine/engine.ts";
import type { BatchNorm2d } from "./engine/nn.ts";
import { Adam } from "./engine/optim/adam.ts";
import type { Parameter } from "./engine/optim/parameter.ts";
import { RandomStream } from "./engine/random.ts";
import { type Tensor, tensor } from "./engine/tensor.ts";
import { augment } from "./augment.ts";
import { hostRandom } from "../core/host_random.ts";
import {
  averageDecay,
  blendParameters,
  recalibrateNorms,
  updateAverage,
} from "./networks/average.ts";
import {
  adamUpdate,
  AVERAGE_PREFIX,
  CHECKPOINT_FORMAT,
  CheckpointError,
  checkpointState,
  loadCheckpointTensors,
  networkUpdates,
  putAdam,
  putNetwork,
  type TakeTensor,
  tensorCollector,
  type TrainerState,
} from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
import { DataError, type ImageSet } from "./data/image_set.ts";
import { batchPixels, BatchSampler, SamplerCountError } from "./data/sampler.ts";
import {
  discriminatorUpdate,
  type GanLosses,
  ganStep,
  type GanStepOptions,
  type Generate,
  type Network,
} from "./gan_step.ts";
import { GanDiscriminator } from "./networks/discriminator.ts";
import { GanGenerator } from "./networks/generator.ts";
import type { HostTensor, Safetensors } from "./safetensors.ts";
import {
  ENERGY_WEIGHT,
  GMM_MEANS,
  InterpretabilityModule,
  type InterpretabilityReport,
} from "./interpretable/module.ts";

/** Streams of the run's seed: each use of randomness draws from its own. */
const STREAM = { weights: 0, latents: 1, sampleLatents: 2, r1Directions: 3 } as const;

/** Key of the host stream of DiffAugment's draws (with the seed and the step). */
const AUGMENT_KEY = 7;
/** The key of a discriminator warm-up step's augmentation draws (by warm-up step). */
const WARMUP_AUGMENT_KEY = 8;

/** The random stream `stream` of the run's `seed`, from position `offset` on. */
export function seededStream(
  seed: number,
  stream: keyof typeof STREAM,
  offset = 0,
): RandomStream {
  return RandomStream.fromState({ seed: seed * 4 + STREAM[stream], offset });
}

/** Networks, optimisers and data order of one run. */
export class GanTrainer {
  readonly config: TrainConfig;
  readonly generator: GanGenerator;
  /** The average of the generator's weights (`config.emaImages`), or null. */
  readonly average: GanGenerator | null;
  readonly discriminator: GanDiscriminator;
  readonly optG: Adam;
  readonly optD: Adam;
  /** W, the partition and their schedule; null for a baseline GAN. */
  readonly interpretability: InterpretabilityModule | null;
  readonly #set: ImageSet;
  #latentRng: RandomStream;
  #sampler: BatchSampler;
  #step = 0;
  /** Discriminator warm-up steps taken this sitting. */
  #warmupSteps = 0;
  /** Seconds trained before this sitting began. */
  #secondsBefore = 0;
  /** Adapters of earlier sittings. */
  #hardwareBefore: string[] = [];
  #sittingStart = performance.now();

  /** A fresh run (step 0) of `config` on `set`. */
  constructor(config: TrainConfig, set: ImageSet) {
    if (set.resolution !== config.network.resolution) {
      throw new DataError(
        `the data is ${set.resolution}x${set.resolution} but the networks are ` +
          `${config.network.resolution}x${config.network.resolution}.`,
      );
    }
    this.config = config;
    this.#set = set;
    const weights = seededStream(config.seed, "weights");
    this.generator = new GanGenerator(weights, config.network);
    this.discriminator = new GanDiscriminator(weights, config.network);
    this.average = config.emaImages > 0 ? new GanGenerator(weights, config.network) : null;
    this.#restartAverage();
    const adam = { beta1: config.beta1, beta2: config.beta2 };
    this.optG = new Adam({ lr: config.lrG, ...adam });
    this.optD = new Adam({ lr: config.lrD, ...adam });
    const [, m, h, w] = this.generator.targetShape(1);
    this.interpretability = config.interpretable
      ? new InterpretabilityModule(config.interpretable, [m, h, w])
      : null;
    this.#latentRng = seededStream(config.seed, "latents");
    this.#sampler = new BatchSampler(set.count, {
      flip: config.flip,
      state: { seed: config.seed, epoch: 0, cursor: 0 },
    });
  }

  /** Generator steps done. */
  get step(): number {
    return this.#step;
  }

  /** Training time so far, over all sittings, in seconds. */
  get seconds(): number {
    return this.#secondsBefore + (performance.now() - this.#sittingStart) / 1000;
  }

  /** The devices the run has trained on (see `TrainerState.hardware`), this sitting's last. */
  get hardware(): string[] {
    const current = getEngine().report.description;
    return [...this.#hardwareBefore.filter((h) => h !== current), current];
  }

  /** One discriminator and one generator update; the losses belong to the caller's scope. */
  trainStep(): GanLosses {
    const { real, z, options } = this.#nextBatch(
      hostRandom(this.config.seed, AUGMENT_KEY, this.#step),
      2 * this.#step,
    );
    const losses = ganStep(
      {
        generator: this.#trainedGenerator(),
        discriminator: this.discriminator,
        optG: this.optG,
        optD: this.optD,
      },
      real,
      z,
      { ...options, generate: this.#generate() },
    );
    const { batch, emaImages } = this.config;
    if (this.average) {
      updateAverage(this.average, this.generator, averageDecay(batch, emaImages));
    }
    this.#step++;
    return losses;
  }

  /**
   * One discriminator update against the generator's images, the generator
   * not moving (`config.discriminatorWarmup`); not a generator step. D's loss
   * belongs to the caller's scope.
   */
  discriminatorWarmupStep(): Tensor {
    const random = hostRandom(this.config.seed, WARMUP_AUGMENT_KEY, this.#warmupSteps);
    const { real, z, options } = this.#nextBatch(random, 2 * this.#warmupSteps++ + 1);
    const fake = this.generator.forward(z, { training: true });
    return discriminatorUpdate(
      { discriminator: this.discriminator, optD: this.optD },
      real,
      fake,
      options,
    ).loss;
  }

  /**
   * The next real batch and latents, and the loss, augmentation (drawing
   * from `random`) and R1 probe directions (the `probes`-th batch of them in
   * the seed's stream) of the step that takes them.
   */
  #nextBatch(
    random: () => number,
    probes: number,
  ): { real: Tensor; z: Tensor; options: Pick<GanStepOptions, "loss" | "augment" | "r1"> } {
    const { batch, network, augment: kinds, r1Gamma, seed } = this.config;
    const selection = this.#sampler.next(batch);
    const s = network.resolution;
    const shape = [batch, 3, s, s];
    const real = tensor(batchPixels(this.#set, selection), shape);
    const z = this.#latentRng.normal([batch, network.latent]);
    return {
      real,
      z,
      options: {
        loss: this.config.loss,
        augment: kinds.length > 0 ? (images) => augment(images, kinds, random) : undefined,
        // Positions fixed by the step: a resumed run draws the same directions without stored state.
        r1: r1Gamma > 0
          ? {
            gamma: r1Gamma,
            directions: seededStream(seed, "r1Directions", probes * real.size).normal(shape),
          }
          : undefined,
      },
    };
  }

  /** Starts the average over at the trained generator's weights. */
  #restartAverage(): void {
    if (this.average) updateAverage(this.average, this.generator, 0);
  }

  /** The generator as its GAN step sees it: with only the tail's parameters when the head is frozen. */
  #trainedGenerator(): Network {
    const generator = this.generator;
    if (!this.config.freezeHead) return generator;
    return {
      forward: (z, ctx) => generator.forward(z, ctx),
      parameters: () => generator.tailParameters(),
    };
  }

  /**
   * A frozen head is the average's (`config.freezeHead`): the maps the tail
   * learns to render are those that samples and export draw. Copying again
   * changes nothing, since the average of a frozen head stays where it is.
   */
  #holdHead(): void {
    if (this.config.freezeHead && this.average) {
      blendParameters(this.generator.headParameters(), this.average.headParameters(), 0);
    }
  }

  /** The generator's forward for GAN steps: with the energy term when the config asks for it. */
  #generate(): Generate | undefined {
    const module = this.interpretability;
    if (!module?.config.energyEveryStep || this.config.freezeHead) return undefined;
    const generator = this.generator;
    return (z, ctx) => {
      const maps = generator.head(z, ctx);
      return { fake: generator.tail(maps, ctx), extraLoss: module.generatorLoss(maps) };
    };
  }

  /** Whether an interpretability step is due after the current step. */
  get interpretabilityDue(): boolean {
    const every = this.config.interpretable?.every;
    if (this.config.freezeHead) return false;
    return every !== undefined && this.#step > 0 && this.#step % every === 0;
  }

  /** One interpretability step (interpretable runs only). */
  interpretabilityStep(): Promise<InterpretabilityReport> {
    if (!this.interpretability) {
      throw new CheckpointError("interpretabilityStep() needs a run with an interpretable config.");
    }
    return this.interpretability.step(this.generator, this.optG, this.#latentRng, this.config.seed);
  }

  /**
   * Images `[B, 3, S, S]` for latents `z` as export would draw them: from the
   * average (its batch-norm statistics recomputed) when the run keeps one,
   * with inference-mode batch norm.
   */
  sample(z: Tensor): Tensor {
    if (!this.average) return this.generator.forward(z, { training: false });
    recalibrateNorms(this.average);
    return this.average.forward(z, { training: false });
  }

  /** Everything needed to continue, read back from the GPU. */
  async snapshot(): Promise<Safetensors> {
    const { tensors, put } = tensorCollector();
    for (const [prefix, params, norms] of this.#nets()) {
      await putNetwork(prefix, params, norms, put);
    }
    for (const p of this.average?.parameters() ?? []) {
      await put(`${AVERAGE_PREFIX}.${p.name}`, p.value);
    }
    const optimizerSteps: TrainerState["optimizerSteps"] = { optimizer_g: {}, optimizer_d: {} };
    for (const [prefix, opt] of this.#optimizers()) {
      optimizerSteps[prefix] = await putAdam(prefix, opt, put);
    }
    const state: TrainerState = {
      step: this.#step,
      seconds: this.seconds,
      hardware: this.hardware,
      latentRng: this.#latentRng.state(),
      sampler: this.#sampler.state(),
      optimizerSteps,
    };
    if (this.interpretability) {
      const module = this.interpretability;
      await put(ENERGY_WEIGHT, module.weight.value);
      if (module.gmm) {
        const groups = module.config.groups;
        tensors[GMM_MEANS] = {
          shape: [groups, module.gmm.means.length / groups],
          data: Float32Array.from(module.gmm.means),
        };
      }
      state.interpretability = {
        assignment: [...module.assignment],
        updates: module.updates,
        gmm: module.gmm
          ? { variances: [...module.gmm.variances], weights: [...module.gmm.weights] }
          : null,
      };
    }
    return {
      tensors,
      metadata: {
        format: CHECKPOINT_FORMAT,
        config: JSON.stringify(this.config),
        state: JSON.stringify(state),
      },
    };
  }

  /** Continues from a {@link snapshot} of a run with the same networks. */
  restore(checkpoint: Safetensors): void {
    const state = checkpointState(checkpoint);
    loadCheckpointTensors(
      checkpoint,
      (take) => this.#collectUpdates(state, checkpoint.tensors, take),
    );
    this.#latentRng = RandomStream.fromState(state.latentRng);
    // Images drawn: a batch a generator step and a discriminator warm-up update.
    const warmup = this.config.initFrom ? this.config.discriminatorWarmup : 0;
    const drawn = (state.step + warmup) * this.config.batch;
    try {
      this.#sampler = new BatchSampler(this.#set.count, {
        flip: this.config.flip,
        state: state.sampler,
        drawn,
      });
    } catch (error) {
      if (!(error instanceof SamplerCountError)) throw error;
      throw new DataError(
        `the data has ${error.count} images, but the run was trained on ${error.trained}: ` +
          "resuming needs the same images (give --data where they are now), or train on these " +
          "in a new run that starts from the checkpoint (--init-from <checkpoint>).",
      );
    }
    this.#step = state.step;
    this.#secondsBefore = state.seconds;
    this.#hardwareBefore = state.hardware ?? [];
    this.#sittingStart = performance.now();
    this.#holdHead();
  }

  #collectUpdates(
    state: TrainerState,
    tensors: Record<string, HostTensor>,
    take: TakeTensor,
  ): (() => void)[] {
    const updates = this.#nets().flatMap(([prefix, params, norms]) =>
      networkUpdates(prefix, params, norms, take)
    );
    if (this.average) {
      updates.push(...networkUpdates(AVERAGE_PREFIX, this.average.parameters(), [], take));
    }
    for (const [prefix, opt, params] of this.#optimizers()) {
      updates.push(adamUpdate(prefix, opt, params, state.optimizerSteps[prefix], take));
    }
    const module = this.interpretability;
    if (module) {
      if (!state.interpretability) {
        throw new CheckpointError(
          "the checkpoint is from a baseline run; start an interpretable run from it with --init-from.",
        );
      }
      const weight = take(ENERGY_WEIGHT, module.weight.shape);
      const saved = state.interpretability;
      const means = saved.gmm ? tensors[GMM_MEANS] : undefined;
      if (saved.gmm && !means) {
        throw new CheckpointError(`the checkpoint has no tensor "${GMM_MEANS}".`);
      }
      updates.push(() => {
        module.weight.replace(weight);
        module.assignment = Int32Array.from(saved.assignment);
        module.updates = saved.updates;
        module.gmm = saved.gmm && means
          ? {
            means: Float64Array.from(means.data),
            variances: Float64Array.from(saved.gmm.variances),
            weights: Float64Array.from(saved.gmm.weights),
          }
          : null;
      });
    }
    return updates;
  }

  /** Frees every GPU tensor the trainer owns. */
  dispose(): void {
    this.generator.dispose();
    this.average?.dispose();
    this.discriminator.dispose();
    this.optG.dispose();
    this.optD.dispose();
    this.interpretability?.dispose();
  }

  /**
   * Starts from another run's generator (weights and batch-norm statistics),
   * and its discriminator too when `config.initDiscriminator`: fine-tuning a
   * baseline into an interpretable GAN. The optimisers start afresh; so
   * does the discriminator otherwise, as the paper does for BigGAN.
   */
  initFrom(checkpoint: Safetensors): void {
    const nets = this.#nets().filter(([prefix]) =>
      prefix === "generator" || this.config.initDiscriminator
    );
    loadCheckpointTensors(
      checkpoint,
      (take) =>
        nets.flatMap(([prefix, params, norms]) => networkUpdates(prefix, params, norms, take)),
    );
    this.#restartAverage();
  }

  #nets(): [string, Parameter[], BatchNorm2d[]][] {
    return [
      ["generator", this.generator.parameters(), this.generator.norms()],
      ["discriminator", this.discriminator.parameters(), this.discriminator.norms()],
    ];
  }

  #optimizers(): ["optimizer_g" | "optimizer_d", Adam, Parameter[]][] {
    return [
      ["optimizer_g", this.optG, this.generator.parameters()],
      ["optimizer_d", this.optD, this.discriminator.parameters()],
    ];
  }
}
