/**
 * Convolution layers as ONNX nodes, with inference-mode batch norm folded
 * into their weights and bias; the generator's and the encoder's exports
 * share it.
 *
 * @module
 */

import { BATCH_NORM_EPS } from "../engine/ops/batchnorm.ts";
import type { BatchNorm2d } from "../engine/nn.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { OnnxGraph } from "./onnx.ts";

/** The two convolution node kinds, by the axis of their kernels' output channels. */
const OUTPUT_AXIS = { Conv: 0, ConvTranspose: 1 } as const;

/** A convolution's weights with a batch norm folded in, on the host, as ONNX wants them. */
interface FoldedConv {
  /** [in, out, k, k] for ConvTranspose, [out, in, k, k] for Conv. */
  weight: Float32Array;
  shape: number[];
  bias: Float32Array;
}

/**
 * Folds inference-mode batch norm y = (x - mean) / sqrt(var + eps) * gamma + beta
 * into the convolution `kernel` before it, whose output channels lie along
 * `outAxis`: each output channel o of the weight is scaled by
 * gamma_o / sqrt(var_o + eps), and the bias becomes beta_o + (bias_o - mean_o) * that scale.
 */
async function foldConv(
  kernel: Tensor,
  outAxis: 0 | 1,
  convBias: Tensor | undefined,
  norm?: BatchNorm2d,
): Promise<FoldedConv> {
  const shape = [...kernel.shape];
  const [d0, d1, kh, kw] = shape;
  const cout = shape[outAxis];
  const weight = await kernel.data();
  const bias = convBias ? await convBias.data() : new Float32Array(cout);
  if (!norm) return { weight, shape, bias };
  const [gamma, beta, mean, variance] = await Promise.all([
    norm.weight.value.data(),
    norm.bias.value.data(),
    norm.state.runningMean.data(),
    norm.state.runningVar.data(),
  ]);
  const scale = Array.from(gamma, (g, o) => g / Math.sqrt(variance[o] + BATCH_NORM_EPS));
  const folded = new Float32Array(weight.length);
  for (let i = 0; i < d0; i++) {
    for (let j = 0; j < d1; j++) {
      const base = (i * d1 + j) * kh * kw, s = scale[outAxis === 0 ? i : j];
      for (let t = 0; t < kh * kw; t++) folded[base + t] = weight[base + t] * s;
    }
  }
  const foldedBias = Float32Array.from(scale, (s, o) => beta[o] + (bias[o] - mean[o]) * s);
  return { weight: folded, shape, bias: foldedBias };
}

/** A convolution node as written: what its backward pass needs to know of it. */
export interface ConvolutionStep {
  op: keyof typeof OUTPUT_AXIS;
  input: string;
  output: string;
  /** The name of its (folded) weight constant. */
  weight: string;
  kernel: number;
  stride: number;
  padding: number;
}

/**
 * Adds a Conv or ConvTranspose node of `kernel` (and the layer's bias) with
 * `norm` folded in; returns the node as written.
 */
export async function addConvolution(
  graph: OnnxGraph,
  op: keyof typeof OUTPUT_AXIS,
  name: string,
  input: string,
  layer: { stride: number; padding: number; bias?: { value: Tensor } },
  kernel: Tensor,
  norm?: BatchNorm2d,
): Promise<ConvolutionStep> {
  const folded = await foldConv(kernel, OUTPUT_AXIS[op], layer.bias?.value, norm);
  const k = folded.shape[2], p = layer.padding, s = layer.stride;
  const weight = graph.weight(`${name}.weight`, folded.shape, folded.weight);
  const output = graph.node(
    op,
    [input, weight, graph.constant(`${name}.bias`, [folded.shape[OUTPUT_AXIS[op]]], folded.bias)],
    `${name}.out`,
    { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p] },
  );
  return { op, input, output, weight, kernel: k, stride: s, padding: p };
}
