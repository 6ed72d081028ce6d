/**
 * The one configuration of a training run: networks, losses, optimiser,
 * schedule and data. It is plain JSON (a run folder's `config.json`), every
 * field has a default, and {@link resolveConfig} checks a partial one.
 *
 * @module
 */

import { checkResolution, type Resolution } from "./data/image_set.ts";
import { UserError } from "../core/user_error.ts";

/**
 * How the generator doubles its resolution: "upsample" (nearest 2x
 * upsampling and a 3x3 convolution, and a tail of two convolutions after the
 * target layer) or "dcgan" (4x4 transposed convolutions, and a tail of one).
 */
export const ARCHITECTURES = ["upsample", "dcgan"] as const;

/** One of {@link ARCHITECTURES}. */
export type Architecture = typeof ARCHITECTURES[number];

/** Sizes of the generator and discriminator. */
export interface NetworkConfig {
  /** The generator's kind of layers (see {@link ARCHITECTURES}). */
  architecture: Architecture;
  /** Side of the generated images: 64 (target layer 32x32) or 32 (target layer 16x16). */
  resolution: Resolution;
  /** Length of the latent vector z. */
  latent: number;
  /**
   * Base channel count w: the generator's layers before the target layer
   * have ..., 4w, 2w channels, the discriminator's w, 2w, 4w, ...
   */
  width: number;
  /** M: channels (filters) of the generator's target layer. */
  targetChannels: number;
}

/** Where training images come from. */
export type DataConfig =
  | { kind: "folder"; path: string }
  | { kind: "synthetic"; count: number; seed: number };

/** GAN losses: non-saturating logistic, or hinge. */
export const GAN_LOSSES = ["nonsaturating", "hinge"] as const;

/** One of {@link GAN_LOSSES}. */
export type GanLoss = typeof GAN_LOSSES[number];

/**
 * Differentiable augmentations of every image the discriminator sees, real
 * and generated (DiffAugment, Zhao et al. 2020): "color" (brightness,
 * saturation, contrast), "translation" (up to 1/8 of the side, zero fill),
 * "cutout" (a zeroed square of half the side).
 */
export const AUGMENTATIONS = ["color", "translation", "cutout"] as const;

/** One of {@link AUGMENTATIONS}. */
export type Augmentation = typeof AUGMENTATIONS[number];

/** Ways L_interp can weigh the other groups (see {@link InterpretableConfig.otherGroups}). */
export const OTHER_GROUPS = ["sum", "mean"] as const;

/** One of {@link OTHER_GROUPS}. */
export type OtherGroups = typeof OTHER_GROUPS[number];

/**
 * The interpretable GAN's settings (Li et al., AAAI 2022). Defaults are the
 * paper's where it gives them (C, T, the lambdas, the SGD rate of W); the
 * rest are ours and explained at {@link DEFAULT_INTERPRETABLE}.
 */
export interface InterpretableConfig {
  /** C: filter groups (GMM components). */
  groups: number;
  /** T: GAN steps per interpretability step. */
  every: number;
  /** N: latents (images) per interpretability step; the GMM sees their maps. */
  images: number;
  /** Weight of the interpretability terms in the generator's objective. */
  lambda0: number;
  /** Weight of overlap with other groups' centres in L_interp. */
  lambda1: number;
  /**
   * How L_interp counts the other groups: "sum" weighs each by lambda1 (the
   * paper's Eq. 5), "mean" by lambda1 / (C - 1), so that all other groups
   * together weigh lambda1 against the own group's 1.
   */
  otherGroups: OtherGroups;
  /** Weight of L_real when updating W. */
  lambda2W: number;
  /** Weight of L_real when updating G. */
  lambda2G: number;
  /** Weight of L_interp at the first interpretability step... */
  lambda3Start: number;
  /** ...decaying exponentially to this... */
  lambda3End: number;
  /** ...over this many interpretability steps (constant afterwards). */
  lambda3DecaySteps: number;
  /** SGD learning rate of W. */
  energyLr: number;
  /** Langevin updates per interpretability step. */
  langevinSteps: number;
  /** Langevin step size delta. */
  langevinStepSize: number;
  /** sigma_0 of the latent prior N(0, sigma_0^2 I). */
  priorSigma: number;
  /** Most EM iterations per GMM fit. */
  gmmIterations: number;
  /**
   * Weight of the fixed-pattern penalty in the generator's energy term (0:
   * none, the paper's): how far each target filter's share of energy that is
   * the same on every image exceeds `fixedShareLimit`, averaged over the
   * filters (`interpretable/fixed_share.ts`).
   */
  fixedShareWeight: number;
  /** The fixed share in [0, 1] above which the penalty starts. */
  fixedShareLimit: number;
  /**
   * Also add the generator's energy term, -lambda0 lambda2G g_W, to its loss
   * at every GAN step (with the latest W and partition), not only at the
   * interpretability steps as the paper does.
   */
  energyEveryStep: boolean;
  /** g_W and the GMM see the target layer's maps averaged over blocks of this size (1: as they are). */
  energyPool: number;
  /**
   * g_W and the GMM see each map divided by its root mean square over the
   * positions (per image and filter), so that they measure where a filter
   * fires, not how strongly.
   */
  energyNormalize: boolean;
}

/**
 * Defaults. The paper gives C, T (50 for BigGAN), lambda0..lambda3 and W's
 * SGD rate of 10. It gives no Langevin settings: we use short-run chains
 * (Nijkamp et al. 2019) of 10 steps of size 0.1 started at the prior samples,
 * with sigma_0 = 1, the prior the latents are drawn from; noise of 0.1 per
 * step keeps the revised latents within about 0.3 of their start, so the
 * "model" maps stay comparable with the "data" maps they are contrasted with.
 * N = 64 images give the GMM 64 x K observations per filter. Where the paper
 * is explicit or silent in a way one reading matches (Eq. 5's sum over other
 * groups, the generator term at interpretability steps only, the layer's own
 * positions), the defaults take that reading; the alternatives
 * (`otherGroups`, `energyEveryStep`, `energyPool`, `energyNormalize`) are for experiments, and
 * docs/RESULTS.md reports what they did.
 */
export const DEFAULT_INTERPRETABLE: InterpretableConfig = {
  groups: 24,
  every: 50,
  images: 64,
  lambda0: 1,
  lambda1: 2 / 3,
  otherGroups: "sum",
  lambda2W: 1,
  lambda2G: 0.1,
  lambda3Start: 3e-2,
  lambda3End: 3e-6,
  lambda3DecaySteps: 500,
  energyLr: 10,
  langevinSteps: 10,
  langevinStepSize: 0.1,
  priorSigma: 1,
  gmmIterations: 100,
  fixedShareWeight: 0,
  fixedShareLimit: 0.9,
  energyEveryStep: false,
  energyPool: 1,
  energyNormalize: false,
};

/** Everything that defines a training run. */
export interface TrainConfig {
  network: NetworkConfig;
  /** The interpretable GAN's settings, or null for a baseline GAN. */
  interpretable: InterpretableConfig | null;
  /** Checkpoint whose generator the run started from (fine-tuning), or null. */
  initFrom: string | null;
  /**
   * Also start from `initFrom`'s discriminator, fine-tuning G and D jointly
   * (the paper's StyleGAN recipe); otherwise D starts afresh (its BigGAN one).
   */
  initDiscriminator: boolean;
  /**
   * With `initFrom`: discriminator updates alone, the generator's weights
   * not moving, before the first generator step (a fresh discriminator
   * first learns the trained generator's faces, so that its first
   * gradients to the generator are not noise). 0: none.
   */
  discriminatorWarmup: number;
  /**
   * Train only the generator's tail (after the target layer) and the
   * discriminator: the head stays at its weight average (at its trained
   * weights in a run without one, `emaImages` 0), so the target
   * layer's maps, and the groups fitted on them, stay as they are, and no
   * interpretability step or energy term is taken (they act on the head
   * alone). A last stage after interpretable fine-tuning: the tail learns to
   * render the fixed maps better.
   */
  freezeHead: boolean;
  data: DataConfig;
  loss: GanLoss;
  /** What the discriminator's inputs go through (empty: none). */
  augment: Augmentation[];
  /**
   * gamma of the R1 penalty on the discriminator's gradients at real images
   * (estimated by a finite difference along a random direction; 0: none).
   */
  r1Gamma: number;
  /**
   * Half-life, in images, of the exponential moving average of the
   * generator's weights that samples and export use (0: no average; they
   * use the trained weights).
   */
  emaImages: number;
  /** Adam learning rate of the generator. */
  lrG: number;
  /** Adam learning rate of the discriminator. */
  lrD: number;
  /** Adam's beta1 for both players (0.5 as in DCGAN: momentum destabilises GANs). */
  beta1: number;
  beta2: number;
  batch: number;
  /** Total generator steps of the run. */
  steps: number;
  /** Seed of initial weights, latents and data order. */
  seed: number;
  /** Mirror training images at random. */
  flip: boolean;
  /** Steps between log lines (and loss reads, which wait for the GPU). */
  logEvery: number;
  /** Steps between sample grids. */
  sampleEvery: number;
  /** Steps between checkpoints. */
  checkpointEvery: number;
  /** Newest checkpoints kept in the run folder (older ones are deleted). */
  keepCheckpoints: number;
}

/** The defaults: a DCGAN-sized 64x64 face model with a 128-filter target layer. */
export const DEFAULT_CONFIG: TrainConfig = {
  network: {
    architecture: "upsample",
    resolution: 64,
    latent: 128,
    width: 64,
    targetChannels: 128,
  },
  interpretable: null,
  initFrom: null,
  initDiscriminator: false,
  discriminatorWarmup: 0,
  freezeHead: false,
  data: { kind: "synthetic", count: 4096, seed: 0 },
  loss: "nonsaturating",
  // DiffAugment slowed convergence at the budgets measured (docs/RESULTS.md): off by default.
  augment: [],
  r1Gamma: 0,
  emaImages: 10000,
  lrG: 2e-4,
  lrD: 2e-4,
  beta1: 0.5,
  beta2: 0.999,
  batch: 64,
  steps: 20000,
  seed: 0,
  flip: true,
  logEvery: 10,
  sampleEvery: 500,
  checkpointEvery: 500,
  keepCheckpoints: 3,
};

/** A configuration value that cannot be used. */
export class ConfigError extends UserError {
  override name = "ConfigError";
}

/**
 * Refuses to continue `source`, at checkpoint `step`, to `steps` steps when
 * there is nothing to train (a `--resume` whose `--steps` is not ahead).
 */
export function requireStepsAhead(step: number, steps: number, source: string): void {
  if (step >= steps) {
    throw new ConfigError(
      `${source} is at step ${step} already, and the run is to end at step ${steps}: give ` +
        `--steps above ${step} to train on.`,
    );
  }
}

/**
 * `resolve()`, whose ConfigError names a command line's flags instead of the
 * config's fields (`flagOfField` gives each field's flag): the field the
 * message begins with, and any other field it names in the config's spelling
 * (dotted or camelCase, never a plain word).
 */
export function withFlagNames<T>(flagOfField: Record<string, string>, resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(
      error.message
        .replace(/^[\w.]+/, (field) => flagOfField[field] ?? field)
        .replace(
          /(?<![\w.-])[a-z]\w*(?:\.\w+|[A-Z]\w*)+/g,
          (field) => flagOfField[field] ?? field,
        ),
    );
  }
}

/** A configuration with some fields given, the rest default. */
export type PartialConfig = Partial<Omit<TrainConfig, "network" | "interpretable">> & {
  network?: Partial<NetworkConfig>;
  interpretable?: Partial<InterpretableConfig> | null;
};

/**
 * What runs configured before a field existed used in its place: a stored
 * config (a run folder's `config.json`) without these fields is read with
 * them, not with today's defaults.
 */
const BEFORE_FIELDS = {
  network: { architecture: "dcgan" },
  augment: [],
  emaImages: 0,
} as const;

/** Reads a stored config: {@link resolveConfig} with the fields it predates as they were. */
export function resolveStoredConfig(stored: PartialConfig): TrainConfig {
  return resolveConfig({
    ...stored,
    augment: stored.augment ?? [...BEFORE_FIELDS.augment],
    emaImages: stored.emaImages ?? BEFORE_FIELDS.emaImages,
    network: { ...BEFORE_FIELDS.network, ...stored.network },
  });
}

/** Fills defaults into `partial` and checks every field; throws {@link ConfigError}. */
export function resolveConfig(partial: PartialConfig = {}): TrainConfig {
  const config: TrainConfig = {
    ...DEFAULT_CONFIG,
    ...partial,
    network: { ...DEFAULT_CONFIG.network, ...partial.network },
    interpretable: partial.interpretable
      ? { ...DEFAULT_INTERPRETABLE, ...partial.interpretable }
      : null,
  };
  const { network } = config;
  try {
    checkResolution(network.resolution);
  } catch (error) {
    throw new ConfigError(`network.${(error as Error).message}`);
  }
  if (!(ARCHITECTURES as readonly string[]).includes(network.architecture)) {
    throw new ConfigError(
      `network.architecture must be one of ${
        ARCHITECTURES.join(", ")
      }, got "${network.architecture}".`,
    );
  }
  positiveInteger("network.latent", network.latent);
  positiveInteger("network.width", network.width);
  positiveInteger("network.targetChannels", network.targetChannels);
  if (!(GAN_LOSSES as readonly string[]).includes(config.loss)) {
    throw new ConfigError(`loss must be one of ${GAN_LOSSES.join(", ")}, got "${config.loss}".`);
  }
  const unknown = config.augment.find((a) => !(AUGMENTATIONS as readonly string[]).includes(a));
  if (!Array.isArray(config.augment) || unknown !== undefined) {
    throw new ConfigError(
      `augment takes a list of ${AUGMENTATIONS.join(", ")}, got ${JSON.stringify(config.augment)}.`,
    );
  }
  if (!(config.r1Gamma >= 0 && Number.isFinite(config.r1Gamma))) {
    throw new ConfigError(`r1Gamma must be a number >= 0, got ${config.r1Gamma}.`);
  }
  if (!(config.emaImages >= 0 && Number.isFinite(config.emaImages))) {
    throw new ConfigError(`emaImages must be a number >= 0, got ${config.emaImages}.`);
  }
  for (const key of ["lrG", "lrD"] as const) {
    if (!(config[key] > 0 && Number.isFinite(config[key]))) {
      throw new ConfigError(`${key} must be a positive number, got ${config[key]}.`);
    }
  }
  for (const key of ["beta1", "beta2"] as const) {
    if (!(config[key] >= 0 && config[key] < 1)) {
      throw new ConfigError(`${key} must be in [0, 1), got ${config[key]}.`);
    }
  }
  for (const key of ["batch", "steps", "logEvery", "sampleEvery", "checkpointEvery"] as const) {
    positiveInteger(key, config[key]);
  }
  positiveInteger("keepCheckpoints", config.keepCheckpoints);
  trueOrFalse("initDiscriminator", config.initDiscriminator);
  trueOrFalse("freezeHead", config.freezeHead);
  if (config.initDiscriminator && !config.initFrom) {
    throw new ConfigError("initDiscriminator needs initFrom: a checkpoint to take D from.");
  }
  if (!Number.isSafeInteger(config.discriminatorWarmup) || config.discriminatorWarmup < 0) {
    throw new ConfigError(
      `discriminatorWarmup must be an integer >= 0, got ${config.discriminatorWarmup}.`,
    );
  }
  if (config.discriminatorWarmup > 0 && !config.initFrom) {
    throw new ConfigError(
      "discriminatorWarmup needs initFrom: it warms a discriminator up against a trained generator.",
    );
  }
  if (config.interpretable) checkInterpretable(config.interpretable, network);
  // Each seed owns four random streams (seed * 4 + k), which must stay below 2^53.
  if (!Number.isSafeInteger(config.seed) || config.seed < 0 || config.seed >= 2 ** 50) {
    throw new ConfigError(`seed must be an integer in [0, 2^50), got ${config.seed}.`);
  }
  if (config.data.kind === "synthetic") positiveInteger("data.count", config.data.count);
  else if (config.data.kind !== "folder" || typeof config.data.path !== "string") {
    throw new ConfigError(`data must be a folder path or the synthetic set.`);
  }
  return config;
}

function checkInterpretable(c: InterpretableConfig, network: NetworkConfig): void {
  const filters = network.targetChannels;
  const integers = [
    "groups",
    "every",
    "images",
    "lambda3DecaySteps",
    "gmmIterations",
    "energyPool",
  ] as const;
  for (const key of integers) {
    positiveInteger(`interpretable.${key}`, c[key]);
  }
  // The target layer's maps are half the resolution on each side.
  const side = network.resolution / 2;
  if (side % c.energyPool !== 0) {
    throw new ConfigError(
      `interpretable.energyPool (${c.energyPool}) must divide the target layer's ${side}x${side} ` +
        "maps.",
    );
  }
  if (c.groups > filters) {
    throw new ConfigError(
      `interpretable.groups (${c.groups}) must not exceed the target layer's ${filters} filters.`,
    );
  }
  if (!Number.isSafeInteger(c.langevinSteps) || c.langevinSteps < 0) {
    throw new ConfigError(
      `interpretable.langevinSteps must be an integer >= 0, got ${c.langevinSteps}.`,
    );
  }
  if (!OTHER_GROUPS.includes(c.otherGroups)) {
    throw new ConfigError(
      `interpretable.otherGroups must be one of ${OTHER_GROUPS.join(", ")}, got ${c.otherGroups}.`,
    );
  }
  if (!(c.fixedShareLimit >= 0 && c.fixedShareLimit <= 1)) {
    throw new ConfigError(
      `interpretable.fixedShareLimit must be a number in [0, 1], got ${c.fixedShareLimit}.`,
    );
  }
  for (const key of ["energyEveryStep", "energyNormalize"] as const) {
    trueOrFalse(`interpretable.${key}`, c[key]);
  }
  const nonNegative = [
    "lambda0",
    "lambda1",
    "lambda2W",
    "lambda2G",
    "langevinStepSize",
    "fixedShareWeight",
  ] as const;
  for (const key of nonNegative) {
    if (!(c[key] >= 0 && Number.isFinite(c[key]))) {
      throw new ConfigError(`interpretable.${key} must be a finite number >= 0, got ${c[key]}.`);
    }
  }
  for (const key of ["lambda3Start", "lambda3End", "energyLr", "priorSigma"] as const) {
    if (!(c[key] > 0 && Number.isFinite(c[key]))) {
      throw new ConfigError(`interpretable.${key} must be a positive number, got ${c[key]}.`);
    }
  }
}

/** Throws {@link ConfigError} unless `value` is an integer >= 1. */
export function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(`${name} must be a positive integer, got ${value}.`);
  }
}

function trueOrFalse(name: string, value: boolean): void {
  if (typeof value !== "boolean") {
    throw new ConfigError(`${name} must be true or false, got ${value}.`);
  }
}
