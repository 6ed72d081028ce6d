/**
 * The generator, split at a named **target layer** at half the output
 * resolution. The target layer's maps (after its ReLU) are what the
 * interpretable GAN organises into concept groups, what the model bundle
 * exposes, and what swaps exchange:
 *
 *   z -> head (stem, blocks ..., target) -> maps [B, M, S/2, S/2] -> tail -> image
 *
 * The stem is a 4x4 transposed convolution of z seen as [B, latent, 1, 1];
 * each block doubles the resolution with batch norm and ReLU. Architectures
 * (`NetworkConfig.architecture`):
 * - "upsample": blocks are nearest upsampling and a 3x3 convolution; the
 *   tail is one such block at the output resolution with w channels, then a
 *   3x3 convolution to RGB and tanh, so that the network renders swapped
 *   maps instead of pasting them into pixels.
 * - "dcgan": blocks are 4x4 transposed convolutions; the tail is one more to
 *   RGB and tanh (DCGAN, Radford et al. 2016).
 *
 * Parameter names (`block4.conv.weight`, `target.norm.running_mean`,
 * `tail64.conv.weight`, `rgb.weight`, ...) are stable: checkpoints, export and
 * the server key on them.
 *
 * @module
 */

import { reshape } from "../engine/ops/layout.ts";
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  type ForwardContext,
  type Layer,
  parametersOf,
  type UpConvolution,
  UpsampleConv2d,
} from "../engine/nn.ts";
import type { Parameter } from "../engine/optim/parameter.ts";
import type { RandomStream } from "../engine/random.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { NetworkConfig } from "../config.ts";

/** Name of the generator's target layer. */
export const TARGET_LAYER = "target";

/** A resolution-raising convolution, its batch norm and a ReLU. */
export interface UpBlock {
  /** The prefix of its parameter names (`block4`, ..., `target`, `tail64`). */
  name: string;
  conv: UpConvolution;
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
  /** The tail's blocks before the RGB layer (none for "dcgan"). */
  readonly tailBlocks: readonly UpBlock[];
  /** The tail's last layer, to RGB (followed by tanh). */
  readonly rgb: ConvTranspose2d | Conv2d;

  constructor(gen: RandomStream, config: NetworkConfig) {
    this.config = config;
    const { resolution, latent, width, targetChannels, architecture } = config;
    const targetSize = resolution / 2;
    // Resolutions 4, 8, ..., targetSize; channels double at each step down from the target.
    const sizes: number[] = [];
    for (let s = 4; s <= targetSize; s *= 2) sizes.push(s);
    const channels = sizes.map((s, k) =>
      k === sizes.length - 1 ? targetChannels : width * (targetSize / s)
    );
    const upConv = (name: string, input: number, output: number): UpConvolution =>
      architecture === "upsample"
        ? new UpsampleConv2d(`${name}.conv`, gen, input, output)
        : new ConvTranspose2d(`${name}.conv`, gen, input, output, 4, { stride: 2, padding: 1 });
    const block = (name: string, conv: UpConvolution, output: number): UpBlock => ({
      name,
      conv,
      norm: new BatchNorm2d(`${name}.norm`, gen, output),
    });
    this.blocks = sizes.map((s, k) => {
      const name = k === sizes.length - 1 ? TARGET_LAYER : `block${s}`;
      if (k === 0) {
        return block(
          name,
          new ConvTranspose2d(`${name}.conv`, gen, latent, channels[0], 4),
          channels[0],
        );
      }
      return block(name, upConv(name, channels[k - 1], channels[k]), channels[k]);
    });
    if (architecture === "upsample") {
      const name = `tail${resolution}`;
      this.tailBlocks = [block(name, upConv(name, targetChannels, width), width)];
      this.rgb = new Conv2d("rgb", gen, width, 3, 3, { padding: 1, bias: true });
    } else {
      this.tailBlocks = [];
      this.rgb = new ConvTranspose2d("rgb", gen, targetChannels, 3, 4, { stride: 2, padding: 1 });
    }
  }

  /** Shape of the target layer's maps for a batch of `batch`: [B, M, S/2, S/2]. */
  targetShape(batch: number): [number, number, number, number] {
    const half = this.config.resolution / 2;
    return [batch, this.config.targetChannels, half, half];
  }

  /** z [B, latent] -> target-layer maps after the ReLU, [B, M, S/2, S/2]. */
  head(z: Tensor, ctx: ForwardContext): Tensor {
    return runBlocks(this.blocks, reshape(z, [z.shape[0], this.config.latent, 1, 1]), ctx);
  }

  /** Target-layer maps [B, M, S/2, S/2] -> images [B, 3, S, S] in [-1, 1]. */
  tail(maps: Tensor, ctx: ForwardContext): Tensor {
    return this.rgb.forward(runBlocks(this.tailBlocks, maps, ctx), { kind: "tanh" });
  }

  /** z -> images: `tail(head(z))`. */
  forward(z: Tensor, ctx: ForwardContext): Tensor {
    return this.tail(this.head(z, ctx), ctx);
  }

  /** The batch norms, whose running statistics checkpoints and export also need. */
  norms(): BatchNorm2d[] {
    return [...this.blocks, ...this.tailBlocks].map((b) => b.norm);
  }

  /** The parameters of {@link head}: everything up to and including the target layer. */
  headParameters(): Parameter[] {
    return blockParameters(this.blocks);
  }

  /** The parameters of {@link tail}: everything after the target layer. */
  tailParameters(): Parameter[] {
    return [...blockParameters(this.tailBlocks), ...this.rgb.parameters()];
  }

  parameters(): Parameter[] {
    return [...this.headParameters(), ...this.tailParameters()];
  }

  dispose(): void {
    for (const b of [...this.blocks, ...this.tailBlocks]) {
      [b.conv, b.norm].forEach((l) => l.dispose());
    }
    this.rgb.dispose();
  }
}

function runBlocks(blocks: readonly UpBlock[], x: Tensor, ctx: ForwardContext): Tensor {
  let h = x;
  for (const { conv, norm } of blocks) h = norm.forward(conv.forward(h), ctx, 0);
  return h;
}

function blockParameters(blocks: readonly UpBlock[]): Parameter[] {
  return parametersOf(blocks.flatMap((b) => [b.conv, b.norm]));
}
