/**
 * The body that the discriminator and the encoder share: DCGAN's strided
 * 4x4 convolutions with LeakyReLU(0.2), halving the resolution down to 4x4
 * (batch norm on every layer but the first), then a 4x4 convolution to
 * `outputs` values per image.
 *
 * Parameter names (`block32.conv.weight`, `block16.norm.weight`, ...,
 * `<outputName>.weight`) are stable: checkpoints and export key on them.
 *
 * @module
 */

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

/** Slope of the LeakyReLU after each block. */
export const LEAKY_SLOPE = 0.2;

/** A strided convolution and its batch norm (none on the first block). */
export interface DownBlock {
  conv: Conv2d;
  norm?: BatchNorm2d;
}

/** Sizes of a {@link DownsamplingNetwork}. */
export interface DownsamplingSizes {
  /** Side S of the input images. */
  resolution: number;
  /** Channels of the first block; each further block doubles them. */
  width: number;
  /** Values per image of the last layer. */
  outputs: number;
  /** Prefix of the last layer's parameter names. */
  outputName: string;
}

/** images [B, 3, S, S] -> [B, outputs]. */
export class DownsamplingNetwork implements Layer {
  /** The strided blocks, from the input resolution down to 4x4. */
  readonly blocks: readonly DownBlock[];
  /** The last layer: a 4x4 convolution of the 4x4 maps to `outputs` channels. */
  readonly output: Conv2d;
  readonly #outputs: number;

  constructor(gen: RandomStream, sizes: DownsamplingSizes) {
    const { resolution, width, outputs, outputName } = sizes;
    const blocks: DownBlock[] = [];
    let channels = 3;
    for (let size = resolution / 2, k = 0; size >= 4; size /= 2, k++) {
      const out = width * 2 ** k;
      blocks.push({
        conv: new Conv2d(`block${size}.conv`, gen, channels, out, 4, { stride: 2, padding: 1 }),
        norm: k === 0 ? undefined : new BatchNorm2d(`block${size}.norm`, gen, out),
      });
      channels = out;
    }
    this.blocks = blocks;
    this.output = new Conv2d(outputName, gen, channels, outputs, 4);
    this.#outputs = outputs;
  }

  /** Each block's activations, from the first (largest) to the 4x4 one. */
  features(x: Tensor, ctx: ForwardContext): Tensor[] {
    const features: Tensor[] = [];
    let h = x;
    for (const { conv, norm } of this.blocks) {
      h = norm
        ? norm.forward(conv.forward(h), ctx, LEAKY_SLOPE)
        : conv.forward(h, { kind: "leakyRelu", slope: LEAKY_SLOPE });
      features.push(h);
    }
    return features;
  }

  /** The last layer on the 4x4 features, as [B, outputs]. */
  outputOf(features: readonly Tensor[]): Tensor {
    const last = features[features.length - 1];
    return reshape(this.output.forward(last), [last.shape[0], this.#outputs]);
  }

  /** The batch norms, whose running statistics checkpoints also keep. */
  norms(): BatchNorm2d[] {
    return this.blocks.flatMap((b) => (b.norm ? [b.norm] : []));
  }

  parameters(): Parameter[] {
    return parametersOf([
      ...this.blocks.flatMap((b) => (b.norm ? [b.conv, b.norm] : [b.conv])),
      this.output,
    ]);
  }

  dispose(): void {
    for (const b of this.blocks) [b.conv, b.norm].forEach((l) => l?.dispose());
    this.output.dispose();
  }
}
