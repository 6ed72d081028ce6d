/**
 * 2D batch normalisation over NCHW tensors, as PyTorch's `BatchNorm2d`:
 * statistics per channel over N, H and W, an affine `gamma`/`beta`, running
 * averages of the statistics for inference, and the gradient.
 *
 * Kernels per call (it runs in every GAN step, so nothing is composed from
 * generic ops):
 * - training forward: one reduction with three sums, the mean and the first
 *   two moments about each channel's first value (the variance is
 *   E[(x - k)^2] - E[x - k]^2 for that k: a value of the data lies within a
 *   few deviations of the mean, so this does not cancel as E[x^2] - E[x]^2
 *   does in f32 for a channel whose mean is large against its deviation),
 *   whose epilogue computes 1/sigma and the running averages, then one fused
 *   map for the normalisation;
 * - inference forward: a per-channel map for 1/sigma and the fused map;
 * - backward: one reduction with two outputs, sum(dy) and sum(dy * xhat)
 *   with xhat recomputed inline, and one map for dx that computes the
 *   per-channel coefficients inline.
 *
 * The mean and 1/sigma are kept in one [2, C] tensor, so that the kernels
 * reading both bind one buffer (dx's map binds 8, WebGPU's default limit).
 *
 * A leaky ReLU (or ReLU) after the normalisation, as every block of the
 * networks has, can be fused in (`leakySlope`): the forward map applies it
 * and the backward kernels take its gradient inline from the output, which
 * saves a pass over the tensor each way, and a kernel forward (backward,
 * the activation's gradient kernel gives way to the per-channel one).
 *
 * @module
 */

import { denseView, type Operand, type View } from "../backend.ts";
import { backend } from "../engine.ts";
import { DisposedTensorError, ShapeError } from "../errors.ts";
import { record } from "../tape.ts";
import { empty, keep, ones, type Shape, type Tensor, zeros } from "../tensor.ts";
import {
  type Activation,
  activationFormula,
  activationGradientFormula,
  checkActivation,
} from "./formulas.ts";

/**
 * Running mean and variance (shape [C] each) of one batch-norm layer.
 *
 * Ownership: the state owns its two tensors. They are taken out of scope
 * tracking ({@link keep}), so they outlive the scope in which they were made,
 * and are freed only when replaced or by {@link BatchNormState.dispose}.
 * Every training-mode {@link batchNorm2d} call replaces both with new tensors
 * and disposes the old ones. Hence:
 * - read `runningMean` / `runningVar` again after a training call instead of
 *   holding on to a tensor from before it;
 * - never dispose them yourself;
 * - for a snapshot that survives later updates, take `.view(shape)` of one:
 *   the view shares its storage and belongs to the current scope.
 */
export class BatchNormState {
  /** Number of channels C. */
  readonly channels: number;
  #runningMean: Tensor;
  #runningVar: Tensor;
  #disposed = false;

  /** Statistics of `channels` channels, initialised as PyTorch does: mean 0, variance 1. */
  constructor(channels: number) {
    if (!Number.isInteger(channels) || channels < 1) {
      throw new ShapeError(
        `BatchNormState needs a positive integer channel count, got ${channels}.`,
      );
    }
    this.channels = channels;
    this.#runningMean = keep(zeros([channels]));
    this.#runningVar = keep(ones([channels]));
  }

  /** Running mean per channel (owned by the state: see the class notes). */
  get runningMean(): Tensor {
    this.#checkLive();
    return this.#runningMean;
  }

  /** Running (unbiased) variance per channel (owned by the state: see the class notes). */
  get runningVar(): Tensor {
    this.#checkLive();
    return this.#runningVar;
  }

  /**
   * Adopts new statistics (shape [C] each), e.g. restored from a checkpoint,
   * and disposes the previous ones. The state becomes the owner of the given
   * tensors (it takes them out of scope tracking): do not dispose them.
   */
  replace(runningMean: Tensor, runningVar: Tensor): void {
    this.#checkLive();
    const given = [["running mean", runningMean], ["running variance", runningVar]] as const;
    for (const [name, { shape }] of given) {
      if (shape.length !== 1 || shape[0] !== this.channels) {
        throw new ShapeError(
          `BatchNormState.replace: the ${name} has shape [${shape.join(", ")}], expected ` +
            `[${this.channels}].`,
        );
      }
    }
    const previous = [this.#runningMean, this.#runningVar];
    this.#runningMean = keep(runningMean);
    this.#runningVar = keep(runningVar);
    for (const t of previous) if (t !== runningMean && t !== runningVar) t.dispose();
  }

  /** Frees both tensors; the state cannot be used afterwards. Idempotent. */
  dispose(): void {
    this.#runningMean.dispose();
    this.#runningVar.dispose();
    this.#disposed = true;
  }

  #checkLive(): void {
    if (this.#disposed) {
      throw new DisposedTensorError(
        `This BatchNormState (${this.channels} channels) was disposed; create a new one.`,
      );
    }
  }
}

/** Options of {@link batchNorm2d}. */
export interface BatchNormOptions {
  /**
   * True: normalise with the batch's statistics and update the running ones.
   * False: normalise with the running statistics, which stay unchanged.
   */
  training: boolean;
  /** Weight of the batch statistic in the new running average; default 0.1. */
  momentum?: number;
  /** Added to the variance before taking its square root; default 1e-5. */
  eps?: number;
  /**
   * Follows the normalisation with a leaky ReLU of this slope (0: a ReLU),
   * fused into its kernels: the same values and gradients as `leakyRelu`
   * (`relu`) of the normalised tensor, with a pass less each way.
   */
  leakySlope?: number;
}

/** An [N, C, H, W] iteration space reads a [C] tensor with these strides. */
const PER_CHANNEL: View = { strides: [0, 1, 0, 0], offset: 0 };

function dense(t: Tensor): Operand {
  return { buffer: t.buffer, view: denseView(t.shape) };
}

function perChannel(t: Tensor): Operand {
  return { buffer: t.buffer, view: PER_CHANNEL };
}

/** The mean (row 0) and 1/sigma (row 1) per channel, as the [N, C, H, W] kernels read them. */
function statistics(stats: Tensor): [mean: Operand, invStd: Operand] {
  const channels = stats.shape[1];
  return [
    perChannel(stats),
    { buffer: stats.buffer, view: { ...PER_CHANNEL, offset: channels } },
  ];
}

/** x[0, c, 0, 0] of an [N, C, H, W] tensor at every position of channel c. */
function firstOfChannel(x: Tensor): Operand {
  const [, , h, w] = x.shape;
  return { buffer: x.buffer, view: { strides: [0, h * w, 0, 0], offset: 0 } };
}

function shapeText(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** Checks the operands; returns the count of values per channel (N * H * W). */
function checkOperands(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  state: BatchNormState,
  training: boolean,
): number {
  if (x.rank !== 4) {
    throw new ShapeError(`batchNorm2d needs an NCHW input of rank 4, got ${shapeText(x.shape)}.`);
  }
  const [n, channels, h, w] = x.shape;
  for (const [name, t] of [["gamma", gamma], ["beta", beta]] as const) {
    if (t.rank !== 1 || t.shape[0] !== channels) {
      throw new ShapeError(
        `batchNorm2d: ${name} has shape ${shapeText(t.shape)}, expected [${channels}] for the ` +
          `channels of input ${shapeText(x.shape)}.`,
      );
    }
  }
  if (state.channels !== channels) {
    throw new ShapeError(
      `batchNorm2d: the running statistics have ${state.channels} channels, input ` +
        `${shapeText(x.shape)} has ${channels}.`,
    );
  }
  const count = n * h * w;
  if (training && count < 2) {
    throw new ShapeError(
      `batchNorm2d in training mode needs more than one value per channel (N * H * W = ` +
        `${count} for input ${shapeText(x.shape)}) to estimate a variance; use a larger batch ` +
        "or inference mode.",
    );
  }
  return count;
}

/**
 * Batch statistics of `x` as a [2, C] tensor (mean, 1/sigma); replaces the
 * state's running statistics (never recorded).
 */
function batchStatistics(
  x: Tensor,
  state: BatchNormState,
  count: number,
  momentum: number,
  eps: number,
): Tensor {
  const channels = state.channels;
  const stats = empty([2, channels]);
  const runningMean = empty([channels]), runningVar = empty([channels]);
  backend().reduce({
    name: "batch_norm_moments",
    shape: x.shape,
    axes: [0, 2, 3],
    inputs: [dense(x), firstOfChannel(x)],
    outputs: [
      { buffer: stats.buffer, expr: "x0", scale: 1 / count },
      { expr: "x0 - x1", scale: 1 / count },
      { expr: "(x0 - x1) * (x0 - x1)", scale: 1 / count },
    ],
    // Per channel: the biased variance (rounding could take it just under 0), 1/sigma and
    // PyTorch's running averages, with the unbiased variance var * count / (count - 1); the
    // scalars are parameters so that other values compile no new kernel.
    epilogue: {
      inputs: [state.runningMean.buffer, state.runningVar.buffer],
      lets: [{ name: "variance", expr: "max(r2 - r1 * r1, 0.0)" }],
      outputs: [
        { buffer: stats.buffer, offset: channels, expr: "inverseSqrt(variance + s1)" },
        { buffer: runningMean.buffer, expr: "(1.0 - s0) * y0 + s0 * r0" },
        { buffer: runningVar.buffer, expr: "(1.0 - s0) * y1 + s0 * variance * s2" },
      ],
      scalars: [momentum, eps, count / (count - 1)],
    },
  });
  state.replace(runningMean, runningVar);
  return stats;
}

/** The running statistics as a [2, C] tensor (mean, 1/sigma). */
function runningStatistics(state: BatchNormState, eps: number): Tensor {
  const channels = state.channels;
  const stats = empty([2, channels]);
  const view = (offset: number) => ({ strides: [1], offset });
  backend().map({
    name: "batch_norm_inference_statistics",
    shape: [channels],
    inputs: [dense(state.runningMean), dense(state.runningVar)],
    outputs: [
      { buffer: stats.buffer, view: view(0), expr: "x0" },
      { buffer: stats.buffer, view: view(channels), expr: "inverseSqrt(x1 + s0)" },
    ],
    scalars: [eps],
  });
  return stats;
}

/**
 * The gradient of the normalised tensor as a formula over `x0` (the
 * gradient of the output) and, with a fused activation, `x1` (the output).
 */
function preActivationGradient(activation: Activation | undefined): string {
  return activation ? activationGradientFormula(activation, "x0", "x1") : "x0";
}

/**
 * Gradients [dx, dgamma, dbeta] from the output's gradient `dy` and the
 * output `y` (read only with a fused activation). In training the statistics
 * depend on x, which gives the standard formula
 * dx = gamma * invStd * (dy - mean(dy) - xhat * mean(dy * xhat)); in
 * inference they are constants and dx = gamma * invStd * dy.
 */
function batchNormBackward(
  dy: Tensor,
  y: Tensor,
  x: Tensor,
  gamma: Tensor,
  stats: Tensor,
  training: boolean,
  count: number,
  activation: Activation | undefined,
): Tensor[] {
  const dp = preActivationGradient(activation);
  // Operands after the gradient's are numbered from k: x<k>, x<k + 1>, ...
  const grads = activation ? [dense(dy), dense(y)] : [dense(dy)];
  const k = grads.length, at = (i: number) => `x${k + i}`;
  const channels = x.shape[1];
  const sumDy = empty([channels]), sumDyXhat = empty([channels]);
  const xhat = `(${at(0)} - ${at(1)}) * ${at(2)}`;
  backend().reduce({
    name: "batch_norm_grad_sums",
    shape: x.shape,
    axes: [0, 2, 3],
    inputs: [...grads, dense(x), ...statistics(stats)],
    outputs: [{ buffer: sumDy.buffer, expr: dp }, {
      buffer: sumDyXhat.buffer,
      expr: `${dp} * ${xhat}`,
    }],
  });
  const dx = empty(x.shape);
  const [, invStd] = statistics(stats);
  if (!training) {
    backend().map({
      name: "batch_norm_grad_x_inference",
      shape: x.shape,
      inputs: [...grads, invStd, perChannel(gamma)],
      outputs: [{ ...dense(dx), expr: `${dp} * ${at(0)} * ${at(1)}` }],
    });
    return [dx, sumDyXhat, sumDy];
  }
  backend().map({
    name: "batch_norm_grad_x",
    shape: x.shape,
    inputs: [
      ...grads,
      dense(x),
      ...statistics(stats),
      perChannel(gamma),
      perChannel(sumDy),
      perChannel(sumDyXhat),
    ],
    // Per channel (computed once per channel where the backend can): gamma / sigma, mean(dy)
    // and mean(dy * xhat) / sigma.
    lets: [
      { name: "scale", expr: `${at(3)} * ${at(2)}` },
      { name: "meanDy", expr: `s0 * ${at(4)}` },
      { name: "slope", expr: `s0 * ${at(5)} * ${at(2)}` },
    ],
    outputs: [{
      ...dense(dx),
      expr: `scale * (${dp} - meanDy - (${at(0)} - ${at(1)}) * slope)`,
    }],
    scalars: [1 / count],
  });
  return [dx, sumDyXhat, sumDy];
}

/** The default epsilon of {@link batchNorm2d} (PyTorch's); export folds batch norm with it. */
export const BATCH_NORM_EPS = 1e-5;

/**
 * Batch normalisation of an NCHW tensor `x` per channel:
 * y = (x - mean) / sqrt(var + eps) * gamma + beta, with `gamma` and `beta` of
 * shape [C].
 *
 * Training mode uses the batch's mean and biased variance, and replaces the
 * tensors of `state` with running = (1 - momentum) * running + momentum *
 * batch statistic (the unbiased variance for the running variance), as
 * PyTorch does. That update is not recorded for gradients and its tensors
 * outlive the caller's scope (see {@link BatchNormState} for ownership).
 * Inference mode uses the running statistics and leaves `state` unchanged.
 *
 * Gradients flow to `x`, `gamma` and `beta`; in training mode, also through
 * the batch statistics.
 */
export function batchNorm2d(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  state: BatchNormState,
  options: BatchNormOptions,
): Tensor {
  const { training } = options;
  const count = checkOperands(x, gamma, beta, state, training);
  const { leakySlope } = options;
  const activation = leakySlope === undefined
    ? undefined
    : { kind: "leakyRelu" as const, slope: leakySlope };
  // Checked before the running statistics are replaced, so that a refused call changes nothing.
  checkActivation("batchNorm2d", activation);
  const eps = options.eps ?? BATCH_NORM_EPS;
  const stats = training
    ? batchStatistics(x, state, count, options.momentum ?? 0.1, eps)
    : runningStatistics(state, eps);
  const y = empty(x.shape);
  backend().map({
    name: activation ? "batch_norm_leaky_relu" : "batch_norm",
    shape: x.shape,
    inputs: [dense(x), ...statistics(stats), perChannel(gamma), perChannel(beta)],
    lets: [{ name: "scale", expr: "x2 * x3" }, { name: "v", expr: "(x0 - x1) * scale + x4" }],
    outputs: [{ ...dense(y), expr: activation ? activationFormula(activation, "v") : "v" }],
  });
  record(
    [x, gamma, beta],
    y,
    (dy) => batchNormBackward(dy, y, x, gamma, stats, training, count, activation),
  );
  return y;
}
