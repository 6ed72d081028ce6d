/**
 * The encoder E: image -> latent, for one trained generator (real photos are
 * edited by encoding them, then using the latent as a generated image's).
 * It is the discriminator's downsampling body (`downsampling.ts`) with a
 * last 4x4 convolution to the latent's Z values instead of one logit.
 *
 * @module
 */

import type { ForwardContext } from "../engine/nn.ts";
import type { RandomStream } from "../engine/random.ts";
import type { Tensor } from "../engine/tensor.ts";
import { DownsamplingNetwork } from "./downsampling.ts";

/** Sizes of an encoder. */
export interface EncoderSizes {
  /** Side S of the images (the generator's resolution). */
  resolution: number;
  /** Channels of the first block. */
  width: number;
  /** Z, the generator's latent size. */
  latent: number;
}

/** images [B, 3, S, S] in [-1, 1] -> latents [B, Z]. */
export class GanEncoder extends DownsamplingNetwork {
  readonly sizes: EncoderSizes;

  constructor(gen: RandomStream, sizes: EncoderSizes) {
    super(gen, {
      resolution: sizes.resolution,
      width: sizes.width,
      outputs: sizes.latent,
      outputName: "latent",
    });
    this.sizes = sizes;
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    return this.outputOf(this.features(x, ctx));
  }
}
