/**
 * Layers: parameters with stable names (`<prefix>.weight`, `<prefix>.bias`,
 * as PyTorch names them) and a forward function. Export and checkpoints key
 * on these names.
 *
 * @module
 */

import { normalInit } from "./init.ts";
import { conv2d, convTranspose2d } from "./ops/conv.ts";
import { batchNorm2d, BatchNormState } from "./ops/batchnorm.ts";
import type { Activation } from "./ops/formulas.ts";
import { linear } from "./ops/matmul.ts";
import { upsampledConvKernel } from "./ops/upsample.ts";
import { Parameter } from "./optim/parameter.ts";
import type { RandomStream } from "./random.ts";
import { full, type Tensor, zeros } from "./tensor.ts";

/** Whether layers run in training mode (batch statistics) or inference mode. */
export interface ForwardContext {
  training: boolean;
  /**
   * In training mode, the weight of this batch's statistics in the batch
   * norms' running averages (default 0.1); 1 / (k + 1) for the k-th of a
   * series of batches makes them the series' mean.
   */
  normMomentum?: number;
}

/** Anything with named parameters. */
export interface Layer {
  parameters(): Parameter[];
  /** Frees the parameters and any other state. */
  dispose(): void;
}

/** How a layer's weights start. */
export interface InitOptions {
  /** Standard deviation of the normal init of weights (DCGAN uses 0.02). */
  std?: number;
}

/** Options of convolution layers. */
export interface ConvLayerOptions extends InitOptions {
  stride?: number;
  padding?: number;
  bias?: boolean;
}

function optionalBias(name: string, enabled: boolean, channels: number): Parameter | undefined {
  return enabled ? new Parameter(`${name}.bias`, zeros([channels])) : undefined;
}

/** A convolution op as the layers call it. */
type Convolution = (
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  options: { stride: number; padding: number; activation?: Activation },
) => Tensor;

/** What a convolution layer holds: a weight, an optional bias, stride, padding and its op. */
abstract class ConvLayer implements Layer {
  readonly weight: Parameter;
  readonly bias?: Parameter;
  readonly stride: number;
  readonly padding: number;
  readonly #convolve: Convolution;

  protected constructor(
    name: string,
    gen: RandomStream,
    weightShape: number[],
    outChannels: number,
    convolve: Convolution,
    options: ConvLayerOptions,
  ) {
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.weight = new Parameter(
      `${name}.weight`,
      normalInit(gen, weightShape, options.std ?? 0.02),
    );
    this.bias = optionalBias(name, options.bias ?? false, outChannels);
    this.#convolve = convolve;
  }

  /** The convolution of `x`, followed by `activation` in the same kernel when given. */
  forward(x: Tensor, activation?: Activation): Tensor {
    return this.#convolve(x, this.weight.value, this.bias?.value, {
      stride: this.stride,
      padding: this.padding,
      activation,
    });
  }

  parameters(): Parameter[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}

/** Conv2d: weight [out, in, k, k]. */
export class Conv2d extends ConvLayer {
  constructor(
    name: string,
    gen: RandomStream,
    inChannels: number,
    outChannels: number,
    kernel: number,
    options: ConvLayerOptions = {},
  ) {
    super(name, gen, [outChannels, inChannels, kernel, kernel], outChannels, conv2d, options);
  }
}

/**
 * A layer that doubles the resolution as a transposed convolution: export
 * writes it as one ConvTranspose with {@link transposedKernel}.
 */
export interface UpConvolution extends Layer {
  readonly stride: number;
  readonly padding: number;
  readonly bias?: Parameter;
  forward(x: Tensor, activation?: Activation): Tensor;
  /** The kernel [in, out, k, k] of the transposed convolution it runs. */
  transposedKernel(): Tensor;
}

/** ConvTranspose2d: weight [in, out, k, k]. */
export class ConvTranspose2d extends ConvLayer implements UpConvolution {
  constructor(
    name: string,
    gen: RandomStream,
    inChannels: number,
    outChannels: number,
    kernel: number,
    options: ConvLayerOptions = {},
  ) {
    super(
      name,
      gen,
      [inChannels, outChannels, kernel, kernel],
      outChannels,
      convTranspose2d,
      options,
    );
  }

  transposedKernel(): Tensor {
    return this.weight.value;
  }
}

/**
 * Nearest 2x upsampling followed by a 3x3 convolution (padding 1), with the
 * weight [out, in, 3, 3] of that convolution: the generator block of
 * upsampling GANs, free of the checkerboard that a learned transposed kernel
 * draws. It runs as the equal 4x4 stride-2 transposed convolution
 * ({@link upsampledConvKernel}), which takes less than half the arithmetic.
 */
export class UpsampleConv2d extends ConvLayer implements UpConvolution {
  constructor(
    name: string,
    gen: RandomStream,
    inChannels: number,
    outChannels: number,
    options: Omit<ConvLayerOptions, "stride" | "padding"> = {},
  ) {
    super(
      name,
      gen,
      [outChannels, inChannels, 3, 3],
      outChannels,
      (x, w, bias, o) => convTranspose2d(x, upsampledConvKernel(w), bias, o),
      { ...options, stride: 2, padding: 1 },
    );
  }

  transposedKernel(): Tensor {
    return upsampledConvKernel(this.weight.value);
  }
}

/** BatchNorm2d with learnable scale (`weight`) and shift (`bias`) and running statistics. */
export class BatchNorm2d implements Layer {
  /** Prefix of the parameter and running-statistics names. */
  readonly name: string;
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly state: BatchNormState;

  constructor(name: string, gen: RandomStream, channels: number, options: InitOptions = {}) {
    // DCGAN draws the scale around 1; std 0 gives PyTorch's default of exactly 1.
    const std = options.std ?? 0.02;
    this.name = name;
    this.weight = new Parameter(
      `${name}.weight`,
      std > 0 ? normalInit(gen, [channels], std, 1) : full([channels], 1),
    );
    this.bias = new Parameter(`${name}.bias`, zeros([channels]));
    this.state = new BatchNormState(channels);
  }

  /**
   * Normalises `x`; with `leakySlope`, also applies a leaky ReLU of that
   * slope (0: a ReLU), fused into the normalisation's kernels.
   */
  forward(x: Tensor, ctx: ForwardContext, leakySlope?: number): Tensor {
    return batchNorm2d(x, this.weight.value, this.bias.value, this.state, {
      training: ctx.training,
      momentum: ctx.normMomentum,
      leakySlope,
    });
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias];
  }

  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    this.state.dispose();
  }
}

/** Linear: weight [out, in], y = x w^T + b. */
export class Linear implements Layer {
  readonly weight: Parameter;
  readonly bias?: Parameter;

  constructor(
    name: string,
    gen: RandomStream,
    inFeatures: number,
    outFeatures: number,
    options: InitOptions & { bias?: boolean } = {},
  ) {
    const std = options.std ?? Math.sqrt(1 / inFeatures);
    this.weight = new Parameter(`${name}.weight`, normalInit(gen, [outFeatures, inFeatures], std));
    this.bias = optionalBias(name, options.bias ?? true, outFeatures);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight.value, this.bias?.value);
  }

  parameters(): Parameter[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}

/** All parameters of several layers, in order. */
export function parametersOf(layers: readonly Layer[]): Parameter[] {
  return layers.flatMap((l) => l.parameters());
}
