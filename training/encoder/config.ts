/**
 * What defines an encoder run (`config.json` of its run folder): the
 * generator it inverts, the data, the losses' weights and the schedule.
 *
 * @module
 */

import { ConfigError, type DataConfig, type NetworkConfig, positiveInteger } from "../config.ts";

/** The `kind` of encoder runs' configs (GAN runs' configs have none). */
export const ENCODER_RUN_KIND = "encoder";

/** Weights of the encoder's losses. */
export interface EncoderLossWeights {
  /** Mean squared error of G(E(x)) against the photo x, in pixels in [-1, 1]. */
  pixel: number;
  /** Mean over the discriminator's blocks of the squared error of their features of G(E(x)) and x. */
  features: number;
  /** Mean squared error of E(G(z)) against z for latents z ~ N(0, 1). */
  cycle: number;
}

/** Everything that defines an encoder run. */
export interface EncoderConfig {
  kind: typeof ENCODER_RUN_KIND;
  /** The GAN checkpoint whose generator (and discriminator, for features) the encoder is for. */
  generator: {
    checkpoint: string;
    /** SHA-256 of that file: export checks the bundle's generator is this one. */
    sha256: string;
    /** The trained weights instead of the run's average of them (as `export --trained-weights`). */
    trainedWeights: boolean;
  };
  /** The generator's sizes (from its checkpoint). */
  network: NetworkConfig;
  /** Channels of the encoder's first block. */
  width: number;
  /**
   * An encoder checkpoint whose weights and statistics start the run (an
   * encoder of an earlier generator, for the generator fine-tuned from it);
   * null for fresh weights. The optimiser starts afresh either way.
   */
  initFrom: string | null;
  /** The photos: by default the data the GAN was trained on. */
  data: DataConfig;
  /** The last `holdout` images of the data are never trained on: measurements use them. */
  holdout: number;
  weights: EncoderLossWeights;
  lr: number;
  batch: number;
  steps: number;
  seed: number;
  /** Mirror training photos at random. */
  flip: boolean;
  logEvery: number;
  sampleEvery: number;
  checkpointEvery: number;
  keepCheckpoints: number;
}

/** Defaults of the fields that have them. */
export const ENCODER_DEFAULTS = {
  initFrom: null,
  holdout: 500,
  weights: { pixel: 1, features: 0.25, cycle: 0.1 },
  lr: 2e-4,
  batch: 32,
  steps: 3000,
  seed: 0,
  flip: true,
  logEvery: 10,
  sampleEvery: 250,
  checkpointEvery: 250,
  keepCheckpoints: 3,
} as const;

/**
 * The fields of an encoder run that do not come of its GAN checkpoint (its
 * sizes and data, and by default the width), so that a command line's can be
 * checked before that file is read.
 */
export type EncoderSettings =
  & Omit<EncoderConfig, "kind" | "generator" | "network" | "data" | "width">
  & Partial<Pick<EncoderConfig, "width">>;

/** Checks every field of `config`; throws {@link ConfigError}. */
export function checkEncoderConfig(config: EncoderConfig): EncoderConfig {
  if (config.kind !== ENCODER_RUN_KIND) {
    throw new ConfigError(`not an encoder run's config (kind "${config.kind}").`);
  }
  positiveInteger("width", config.width);
  checkEncoderSettings(config);
  return config;
}

/** Checks every field of `settings` (the width where they have one); throws {@link ConfigError}. */
export function checkEncoderSettings(settings: EncoderSettings): void {
  if (settings.width !== undefined) positiveInteger("width", settings.width);
  for (
    const key of [
      "batch",
      "steps",
      "logEvery",
      "sampleEvery",
      "checkpointEvery",
      "keepCheckpoints",
    ] as const
  ) positiveInteger(key, settings[key]);
  const { initFrom, holdout, seed, lr, weights } = settings;
  if (initFrom !== null && (typeof initFrom !== "string" || initFrom === "")) {
    throw new ConfigError(`initFrom must be a checkpoint file or null, got ${initFrom}.`);
  }
  // The held-out photos are what its figures and sample grids measure: at least one.
  if (!Number.isInteger(holdout) || holdout < 1) {
    throw new ConfigError(`holdout must be a positive integer, got ${holdout}.`);
  }
  if (!Number.isInteger(seed) || seed < 0) {
    throw new ConfigError(`seed must be an integer >= 0, got ${seed}.`);
  }
  if (!(Number.isFinite(lr) && lr > 0)) {
    throw new ConfigError(`lr must be a positive number, got ${lr}.`);
  }
  for (const [name, w] of Object.entries(weights)) {
    if (!(Number.isFinite(w) && w >= 0)) {
      throw new ConfigError(`weights.${name} must be a number >= 0, got ${w}.`);
    }
  }
  if (weights.pixel + weights.features + weights.cycle === 0) {
    throw new ConfigError("at least one loss weight must be above 0.");
  }
}
