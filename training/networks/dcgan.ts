/**
 * The DCGAN of Radford et al. (2016) at 64x64: a transposed-convolution
 * generator with batch norm and a strided-convolution discriminator with
 * LeakyReLU, with PyTorch's layer names and DCGAN's N(0, 0.02) init.
 *
 * `width` is the narrowest layer: width 64 gives 512/256/128/64 channels.
 *
 * @module
 */

import { leakyRelu, relu, tanh } from "../engine/ops/elementwise.ts";
import { reshape } from "../engine/ops/layout.ts";
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  type ForwardContext,
  type Layer,
  parametersOf,
} from "../engine/nn.ts";
import type { Parameter } from "../engine/optim/parameter.ts";
import type { Generator } from "../engine/random.ts";
import type { Tensor } from "../engine/tensor.ts";

/** Sizes of a DCGAN. */
export interface DcganSize {
  /** Channels of the widest-resolution layer (the others are 2x, 4x, 8x). */
  width: number;
  /** Latent size. */
  latent: number;
}

/** z [B, latent] -> images [B, 3, 64, 64] in [-1, 1]. */
export class DcganGenerator implements Layer {
  readonly size: DcganSize;
  readonly #convs: ConvTranspose2d[];
  readonly #norms: BatchNorm2d[];

  constructor(gen: Generator, size: DcganSize) {
    this.size = size;
    const w = size.width;
    const channels = [size.latent, 8 * w, 4 * w, 2 * w, w, 3];
    this.#convs = channels.slice(0, -1).map((c, k) =>
      new ConvTranspose2d(`main.${3 * k}`, gen, c, channels[k + 1], 4, {
        stride: k === 0 ? 1 : 2,
        padding: k === 0 ? 0 : 1,
      })
    );
    this.#norms = channels.slice(1, -1).map((c, k) => new BatchNorm2d(`main.${3 * k + 1}`, gen, c));
  }

  forward(z: Tensor, ctx: ForwardContext): Tensor {
    let h = reshape(z, [z.shape[0], this.size.latent, 1, 1]);
    for (let k = 0; k < this.#norms.length; k++) {
      h = relu(this.#norms[k].forward(this.#convs[k].forward(h), ctx));
    }
    return tanh(this.#convs[this.#convs.length - 1].forward(h));
  }

  parameters(): Parameter[] {
    return parametersOf([...this.#convs, ...this.#norms]);
  }

  dispose(): void {
    for (const layer of [...this.#convs, ...this.#norms]) layer.dispose();
  }
}

/** images [B, 3, 64, 64] -> logits [B]. */
export class DcganDiscriminator implements Layer {
  readonly #convs: Conv2d[];
  readonly #norms: BatchNorm2d[];

  constructor(gen: Generator, size: Pick<DcganSize, "width">) {
    const w = size.width;
    const channels = [3, w, 2 * w, 4 * w, 8 * w, 1];
    this.#convs = channels.slice(0, -1).map((c, k) =>
      new Conv2d(`main.${k === 0 ? 0 : 3 * k - 1}`, gen, c, channels[k + 1], 4, {
        stride: k === 4 ? 1 : 2,
        padding: k === 4 ? 0 : 1,
      })
    );
    this.#norms = channels.slice(2, -1).map((c, k) => new BatchNorm2d(`main.${3 * k + 3}`, gen, c));
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    let h = leakyRelu(this.#convs[0].forward(x), 0.2);
    for (let k = 0; k < this.#norms.length; k++) {
      h = leakyRelu(this.#norms[k].forward(this.#convs[k + 1].forward(h), ctx), 0.2);
    }
    const logits = this.#convs[this.#convs.length - 1].forward(h);
    return reshape(logits, [x.shape[0]]);
  }

  parameters(): Parameter[] {
    return parametersOf([...this.#convs, ...this.#norms]);
  }

  dispose(): void {
    for (const layer of [...this.#convs, ...this.#norms]) layer.dispose();
  }
}
