/**
 * The generator as two ONNX models, split at its target layer as the server
 * uses them:
 *
 *   head.onnx  z [N, Z] -> maps [N, M, S/2, S/2] (after the target layer's ReLU)
 *   tail.onnx  maps [N, M, S/2, S/2] -> image [N, 3, S, S] in [-1, 1]
 *
 * Each node mirrors a step of {@link GanGenerator.head} and
 * {@link GanGenerator.tail}: every resolution-raising layer is one
 * ConvTranspose (upsampling with a 3x3 convolution as its equal 4x4 kernel),
 * with batch norm (inference mode, running statistics) folded in.
 *
 * @module
 */

import { BATCH_NORM_EPS } from "../engine/ops/batchnorm.ts";
import { type BatchNorm2d, Conv2d } from "../engine/nn.ts";
import { asyncScope, type Tensor } from "../engine/tensor.ts";
import type { GanGenerator, UpBlock } from "../networks/generator.ts";
import { type ModelInfo, OnnxGraph } from "./onnx.ts";

/** Input and output names of the two models. */
export const ONNX_NAMES = { latent: "z", maps: "maps", image: "image" } as const;

/** The two serialised models. */
export interface GeneratorOnnx {
  head: Uint8Array;
  tail: Uint8Array;
}

/** The two node kinds a generator exports, by the axis of their kernels' output channels. */
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

/**
 * Adds a Conv or ConvTranspose node of `kernel` (and the layer's bias) with
 * `norm` folded in; returns its output's name.
 */
async function addConvolution(
  graph: OnnxGraph,
  op: keyof typeof OUTPUT_AXIS,
  name: string,
  input: string,
  layer: { stride: number; padding: number; bias?: { value: Tensor } },
  kernel: Tensor,
  norm?: BatchNorm2d,
): Promise<string> {
  const folded = await foldConv(kernel, OUTPUT_AXIS[op], layer.bias?.value, norm);
  const k = folded.shape[2], p = layer.padding;
  return graph.node(
    op,
    [
      input,
      graph.constant(`${name}.weight`, folded.shape, folded.weight),
      graph.constant(`${name}.bias`, [folded.shape[OUTPUT_AXIS[op]]], folded.bias),
    ],
    `${name}.out`,
    { kernel_shape: [k, k], strides: [layer.stride, layer.stride], pads: [p, p, p, p] },
  );
}

/** Adds blocks (a transposed convolution with its batch norm folded in, then ReLU); returns the last output. */
async function addBlocks(
  graph: OnnxGraph,
  blocks: readonly UpBlock[],
  input: string,
  lastName?: string,
): Promise<string> {
  let h = input;
  for (const [k, { name, conv, norm }] of blocks.entries()) {
    const out = await asyncScope(() =>
      addConvolution(graph, "ConvTranspose", name, h, conv, conv.transposedKernel(), norm)
    );
    h = graph.node("Relu", [out], k === blocks.length - 1 && lastName ? lastName : `${name}.relu`);
  }
  return h;
}

/** Serialises `generator`'s head and tail (its current weights and running statistics). */
export async function generatorOnnx(
  generator: GanGenerator,
  info: Omit<ModelInfo, "name">,
): Promise<GeneratorOnnx> {
  const { latent, targetChannels, resolution } = generator.config;
  const half = resolution / 2;
  const mapsShape = [targetChannels, half, half];

  const head = new OnnxGraph();
  const latent4d = head.node(
    "Reshape",
    [
      head.input(ONNX_NAMES.latent, [latent]),
      head.int64Constant("latent_shape", [-1, latent, 1, 1]),
    ],
    "latent_4d",
  );
  await addBlocks(head, generator.blocks, latent4d, ONNX_NAMES.maps);
  head.output(ONNX_NAMES.maps, mapsShape);

  const tail = new OnnxGraph();
  const h = await addBlocks(tail, generator.tailBlocks, tail.input(ONNX_NAMES.maps, mapsShape));
  const { rgb } = generator;
  const op = rgb instanceof Conv2d ? "Conv" : "ConvTranspose";
  const rgbOut = await addConvolution(tail, op, "rgb", h, rgb, rgb.weight.value);
  tail.node("Tanh", [rgbOut], ONNX_NAMES.image);
  tail.output(ONNX_NAMES.image, [3, resolution, resolution]);

  return {
    head: head.encode({ ...info, name: "head" }),
    tail: tail.encode({ ...info, name: "tail" }),
  };
}
