/**
 * The generator: DCGAN's transposed-convolution stack with batch norm, split
 * at a named **target layer** at half the output resolution. The target
 * layer's maps (after its ReLU) are what the interpretable GAN organises into
 * concept groups, what the model bundle exposes, and what swaps exchange:
 *
 *   z -> head (block4 ... target) -> maps [B, M, S/2, S/2] -> tail (rgb, tanh) -> image
 *
 * Parameter names (`block4.conv.weight`, `target.norm.running_mean`, ...) are
 * stable: checkpoints, export and the server key on them.
 *
 * @module
 */

import { relu, tanh } from "../engine/ops/elementwise.ts";
import { reshape } from "../engine/ops/layout.ts";
import {
  BatchNorm2d,
  ConvTranspose2d,
  type ForwardContext,
  type Layer,
  parametersOf,
} from "../engine/nn.ts";
import type { Parameter } from "../engine/optim/parameter.ts";
import type { RandomStream } from "../engine/random.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { NetworkConfig } from "../config.ts";

/** Name of the generator's target layer. */
export const TARGET_LAYER = "target";

/** A transposed convolution, its batch norm and a ReLU. */
export interface UpBlock {
  /** The prefix of its parameter names (`block4`, ..., `target`). */
  name: string;
  conv: ConvTranspose2d;
  norm: BatchNorm2d;
}

/** z [B, latent] -> images [B, 3, S, S] in [-1, 1], through the target layer. */
export class GanGenerator implements Layer {
  readonly config: NetworkConfig;
  /**
   * The head: the stem (z as [B, latent, 1, 1] -> 4x4), then 2x upsampling
   * blocks; the last is the target layer. Export writes them as they are run.
   */
  readonly blocks: readonly UpBlock[];
  /** The tail's transposed convolution (to RGB, followed by tanh). */
  readonly rgb: ConvTranspose2d;

  constructor(gen: RandomStream, config: NetworkConfig) {
    this.config = config;
    const { resolution, latent, width, targetChannels } = config;
    const targetSize = resolution / 2;
    // Resolutions 4, 8, ..., targetSize; channels double at each step down from the target.
    const sizes: number[] = [];
    for (let s = 4; s <= targetSize; s *= 2) sizes.push(s);
    const channels = sizes.map((s, k) =>
      k === sizes.length - 1 ? targetChannels : width * (targetSize / s)
    );
    this.blocks = sizes.map((s, k) => {
      const name = k === sizes.length - 1 ? TARGET_LAYER : `block${s}`;
      const input = k === 0 ? latent : channels[k - 1];
      return {
        name,
        conv: new ConvTranspose2d(`${name}.conv`, gen, input, channels[k], 4, {
          stride: k === 0 ? 1 : 2,
          padding: k === 0 ? 0 : 1,
        }),
        norm: new BatchNorm2d(`${name}.norm`, gen, channels[k]),
      };
    });
    this.rgb = new ConvTranspose2d("rgb", gen, targetChannels, 3, 4, { stride: 2, padding: 1 });
  }

  /** Shape of the target layer's maps for a batch of `batch`: [B, M, S/2, S/2]. */
  targetShape(batch: number): [number, number, number, number] {
    const half = this.config.resolution / 2;
    return [batch, this.config.targetChannels, half, half];
  }

  /** z [B, latent] -> target-layer maps after the ReLU, [B, M, S/2, S/2]. */
  head(z: Tensor, ctx: ForwardContext): Tensor {
    let h = reshape(z, [z.shape[0], this.config.latent, 1, 1]);
    for (const { conv, norm } of this.blocks) h = relu(norm.forward(conv.forward(h), ctx));
    return h;
  }

  /** Target-layer maps [B, M, S/2, S/2] -> images [B, 3, S, S] in [-1, 1]. */
  tail(maps: Tensor): Tensor {
    return tanh(this.rgb.forward(maps));
  }

  /** z -> images: `tail(head(z))`. */
  forward(z: Tensor, ctx: ForwardContext): Tensor {
    return this.tail(this.head(z, ctx));
  }

  /** The batch norms, whose running statistics checkpoints and export also need. */
  norms(): BatchNorm2d[] {
    return this.blocks.map((b) => b.norm);
  }

  /** The parameters of {@link head}: everything up to and including the target layer. */
  headParameters(): Parameter[] {
    return parametersOf(this.blocks.flatMap((b) => [b.conv, b.norm]));
  }

  parameters(): Parameter[] {
    return [...this.headParameters(), ...this.rgb.parameters()];
  }

  dispose(): void {
    for (const b of this.blocks) [b.conv, b.norm].forEach((l) => l.dispose());
    this.rgb.dispose();
  }
}
