/**
 * The discriminator: the shared downsampling body (`downsampling.ts`,
 * DCGAN's strided 4x4 convolutions with LeakyReLU(0.2), halving the
 * resolution down to 4x4) with a last 4x4 convolution to one logit.
 *
 * Stabiliser: batch norm on every layer but the first, as in DCGAN (Radford
 * et al. 2016), with real and generated images normalised in separate
 * batches, plus DCGAN's Adam settings (lr 2e-4, beta1 0.5). It is the recipe
 * with the longest record at this size on 64x64 faces, and it costs one fused
 * pass per layer. An R1 penalty (`--r1`) is estimated by finite differences
 * (`losses.ts`), since the engine's autograd records no gradients of
 * gradients; spectral norm (a power iteration per layer and step) is the
 * next thing to add if a data set makes this recipe diverge, which the loop
 * reports as non-finite losses.
 *
 * @module
 */

import { reshape } from "../engine/ops/layout.ts";
import type { ForwardContext } from "../engine/nn.ts";
import type { RandomStream } from "../engine/random.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { NetworkConfig } from "../config.ts";
import { DownsamplingNetwork } from "./downsampling.ts";

/** images [B, 3, S, S] -> logits [B]. */
export class GanDiscriminator extends DownsamplingNetwork {
  constructor(gen: RandomStream, config: Pick<NetworkConfig, "resolution" | "width">) {
    super(gen, { ...config, outputs: 1, outputName: "logit" });
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    return reshape(this.outputOf(this.features(x, ctx)), [x.shape[0]]);
  }
}
