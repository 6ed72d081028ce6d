/**
 * Float64 host references of batch normalisation (PyTorch's `BatchNorm2d`
 * semantics) and nearest-neighbour upsampling, for tests.
 *
 * @module
 */

import type { HostTensor } from "./harness.ts";

/** Per-channel statistics of an NCHW tensor over N, H and W. */
export interface ChannelStatistics {
  mean: Float64Array;
  /** Divided by the count N * H * W: what training normalises with. */
  biasedVar: Float64Array;
  /** Divided by N * H * W - 1: what the running variance averages. */
  unbiasedVar: Float64Array;
}

/** Running statistics of a batch-norm layer on the host. */
export interface HostRunningStatistics {
  mean: Float64Array;
  variance: Float64Array;
}

/** Calls `f(channel, flatIndex)` for every element of an NCHW shape. */
function forEachElement(shape: number[], f: (channel: number, index: number) => void): void {
  const [n, c, h, w] = shape;
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (b * c + ch) * plane;
      for (let p = 0; p < plane; p++) f(ch, base + p);
    }
  }
}

/** Mean and variances per channel, each in two passes as a careful host would. */
export function channelStatisticsRef(x: HostTensor): ChannelStatistics {
  const [n, c, h, w] = x.shape;
  const count = n * h * w;
  const mean = new Float64Array(c), squares = new Float64Array(c);
  forEachElement(x.shape, (ch, i) => mean[ch] += x.data[i]);
  for (let ch = 0; ch < c; ch++) mean[ch] /= count;
  forEachElement(x.shape, (ch, i) => squares[ch] += (x.data[i] - mean[ch]) ** 2);
  return {
    mean,
    biasedVar: squares.map((s) => s / count),
    unbiasedVar: squares.map((s) => s / (count - 1)),
  };
}

/**
 * (x - mean) / sqrt(var + eps) * gamma + beta per channel, with the batch's
 * mean and biased variance (training) or with `running` (inference).
 */
export function batchNorm2dRef(
  x: HostTensor,
  gamma: HostTensor,
  beta: HostTensor,
  eps: number,
  running?: HostRunningStatistics,
): HostTensor {
  let mean: Float64Array, variance: Float64Array;
  if (running) {
    ({ mean, variance } = running);
  } else {
    const stats = channelStatisticsRef(x);
    mean = stats.mean;
    variance = stats.biasedVar;
  }
  const data = new Float64Array(x.data.length);
  forEachElement(x.shape, (ch, i) => {
    data[i] = (x.data[i] - mean[ch]) / Math.sqrt(variance[ch] + eps) * gamma.data[ch] +
      beta.data[ch];
  });
  return { shape: x.shape, data };
}

/**
 * PyTorch's update of the running statistics after a training step on `x`:
 * running = (1 - momentum) * running + momentum * batch statistic, with the
 * unbiased batch variance.
 */
export function runningStatisticsRef(
  running: HostRunningStatistics,
  x: HostTensor,
  momentum: number,
): HostRunningStatistics {
  const stats = channelStatisticsRef(x);
  return {
    mean: running.mean.map((r, ch) => (1 - momentum) * r + momentum * stats.mean[ch]),
    variance: running.variance.map((r, ch) =>
      (1 - momentum) * r + momentum * stats.unbiasedVar[ch]
    ),
  };
}

/** Each pixel of an NCHW tensor repeated in a 2x2 block. */
export function upsampleNearest2xRef(x: HostTensor): HostTensor {
  const [n, c, h, w] = x.shape;
  const data = new Float64Array(x.data.length * 4);
  for (let plane = 0; plane < n * c; plane++) {
    for (let i = 0; i < 2 * h; i++) {
      for (let j = 0; j < 2 * w; j++) {
        data[(plane * 2 * h + i) * 2 * w + j] =
          x.data[(plane * h + Math.floor(i / 2)) * w + Math.floor(j / 2)];
      }
    }
  }
  return { shape: [n, c, 2 * h, 2 * w], data };
}
