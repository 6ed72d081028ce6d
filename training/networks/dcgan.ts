/**
 * The DCGAN of Radford et al. (2016) at 64x64 as a {@link NetworkConfig}:
 * the project's networks with a target layer as wide as DCGAN's 32x32 layer
 * (width 64 gives 512/256/128/64 channels). The engine benchmark and tests
 * use it to compare with PyTorch's DCGAN example.
 *
 * @module
 */

import type { NetworkConfig } from "../config.ts";

/** DCGAN's sizes for base width `width` and latent size `latent`. */
export function dcgan(width: number, latent: number): NetworkConfig {
  return { architecture: "dcgan", resolution: 64, latent, width, targetChannels: width };
}
