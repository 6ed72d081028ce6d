/**
 * The discriminator: DCGAN's strided 4x4 convolutions with LeakyReLU(0.2),
 * halving the resolution down to 4x4, then a 4x4 convolution to one logit.
 *
 * Stabiliser: batch norm on every layer but the first, as in DCGAN (Radford
 * et al. 2016), with real and generated images normalised in separate
 * batches, plus DCGAN's Adam settings (lr 2e-4, beta1 0.5). It is the recipe
 * with the longest record at this size on 64x64 faces, and it costs one fused
 * pass per layer. An R1 penalty was ruled out because it needs gradients of
 * gradients, which the engine's autograd does not record; spectral norm (a
 * power iteration per layer and step) is the next thing to add if a data set
 * makes this recipe diverge, which the loop reports as non-finite losses.
 *
 * @module
 */

import { leakyRelu } from "../engine/ops/elementwise.ts";
import { reshape } from "../engine/ops/layout.ts";
import {
  BatchNorm2d,
  Conv2d,
  type ForwardContext,
  type Layer,
  parametersOf,
} from "../engine/nn.ts";
import type { Parameter } from "../engine/optim/parameter.ts";
import type { RandomStream } from "../engine/random.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { NetworkConfig } from "../config.ts";

interface DownBlock {
  conv: Conv2d;
  norm?: BatchNorm2d;
}

/** images [B, 3, S, S] -> logits [B]. */
export class GanDiscriminator implements Layer {
  readonly #blocks: DownBlock[];
  readonly #logit: Conv2d;

  constructor(gen: RandomStream, config: Pick<NetworkConfig, "resolution" | "width">) {
    const { resolution, width } = config;
    this.#blocks = [];
    let channels = 3;
    for (let size = resolution / 2, k = 0; size >= 4; size /= 2, k++) {
      const out = width * 2 ** k;
      this.#blocks.push({
        conv: new Conv2d(`block${size}.conv`, gen, channels, out, 4, { stride: 2, padding: 1 }),
        norm: k === 0 ? undefined : new BatchNorm2d(`block${size}.norm`, gen, out),
      });
      channels = out;
    }
    this.#logit = new Conv2d("logit", gen, channels, 1, 4);
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    let h = x;
    for (const { conv, norm } of this.#blocks) {
      const y = conv.forward(h);
      h = leakyRelu(norm ? norm.forward(y, ctx) : y, 0.2);
    }
    return reshape(this.#logit.forward(h), [x.shape[0]]);
  }

  /** The batch norms, whose running statistics checkpoints also keep. */
  norms(): BatchNorm2d[] {
    return this.#blocks.flatMap((b) => (b.norm ? [b.norm] : []));
  }

  parameters(): Parameter[] {
    return parametersOf([
      ...this.#blocks.flatMap((b) => (b.norm ? [b.conv, b.norm] : [b.conv])),
      this.#logit,
    ]);
  }

  dispose(): void {
    for (const b of this.#blocks) [b.conv, b.norm].forEach((l) => l?.dispose());
    this.#logit.dispose();
  }
}
