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

/** Checks every field of `config`; throws {@link ConfigError}. */
export function checkEncoderConfig(config: EncoderConfig): EncoderConfig {
  if (config.kind !== ENCODER_RUN_KIND) {
    throw new ConfigError(`not an encoder run's config (kind "${config.kind}").`);
  }
  for (
    const key of [
      "width",
      "batch",
      "steps",
      "logEvery",
      "sampleEvery",
      "checkpointEvery",
      "keepCheckpoints",
    ] as const
  ) positiveInteger(key, config[key]);
  if (config.initFrom !== null && (typeof config.initFrom !== "string" || config.initFrom === "")) {
    throw new ConfigError(`initFrom must be a checkpoint file or null, got ${config.initFrom}.`);
  }
  if (!Number.isInteger(config.holdout) || config.holdout < 0) {
    throw new ConfigError(`holdout must be an integer >= 0, got ${config.holdout}.`);
  }
  if (!Number.isInteger(config.seed) || config.seed < 0) {
    throw new ConfigError(`seed must be an integer >= 0, got ${config.seed}.`);
  }
  if (!(Number.isFinite(config.lr) && config.lr > 0)) {
    throw new ConfigError(`lr must be a positive number, got ${config.lr}.`);
  }
  for (const [name, w] of Object.entries(config.weights)) {
    if (!(Number.isFinite(w) && w >= 0)) {
      throw new ConfigError(`the ${name} loss weight must be a number >= 0, got ${w}.`);
    }
  }
  if (config.weights.pixel + config.weights.features + config.weights.cycle === 0) {
    throw new ConfigError("at least one loss weight must be above 0.");
  }
  return config;
}
