/**
 * The generator as two ONNX models, split at its target layer as the server
 * uses them:
 *
 *   head.onnx  z [N, Z] -> maps [N, M, S/2, S/2] (after the target layer's ReLU)
 *   tail.onnx  maps [N, M, S/2, S/2] -> image [N, 3, S, S] in [-1, 1]
 *
 * Each node mirrors a step of {@link GanGenerator.head} and
 * {@link GanGenerator.tail}; batch norm (inference mode, running statistics)
 * is folded into the transposed convolution before it.
 *
 * @module
 */

import { BATCH_NORM_EPS } from "../engine/ops/batchnorm.ts";
import type { BatchNorm2d, ConvTranspose2d } from "../engine/nn.ts";
import type { GanGenerator } from "../networks/generator.ts";
import { type ModelInfo, OnnxGraph } from "./onnx.ts";

/** Input and output names of the two models. */
export const ONNX_NAMES = { latent: "z", maps: "maps", image: "image" } as const;

/** The two serialised models. */
export interface GeneratorOnnx {
  head: Uint8Array;
  tail: Uint8Array;
}

/** A transposed convolution's weights with a batch norm folded in, on the host. */
interface FoldedConv {
  /** [in, out, k, k], as ONNX ConvTranspose wants it. */
  weight: Float32Array;
  shape: number[];
  bias: Float32Array;
}

/**
 * Folds inference-mode batch norm y = (x - mean) / sqrt(var + eps) * gamma + beta
 * into the bias-free convolution before it: each output channel o of the
 * weight is scaled by gamma_o / sqrt(var_o + eps), and the bias becomes
 * beta_o - mean_o * that scale (computed in float64).
 */
export async function foldConv(conv: ConvTranspose2d, norm?: BatchNorm2d): Promise<FoldedConv> {
  const shape = [...conv.weight.shape];
  const [cin, cout, kh, kw] = shape;
  const weight = await conv.weight.value.data();
  const bias = conv.bias ? await conv.bias.value.data() : new Float32Array(cout);
  if (!norm) return { weight, shape, bias };
  const [gamma, beta, mean, variance] = await Promise.all([
    norm.weight.value.data(),
    norm.bias.value.data(),
    norm.state.runningMean.data(),
    norm.state.runningVar.data(),
  ]);
  const scale = Array.from(gamma, (g, o) => g / Math.sqrt(variance[o] + BATCH_NORM_EPS));
  const folded = new Float32Array(weight.length);
  for (let i = 0; i < cin; i++) {
    for (let o = 0; o < cout; o++) {
      const base = (i * cout + o) * kh * kw;
      for (let t = 0; t < kh * kw; t++) folded[base + t] = weight[base + t] * scale[o];
    }
  }
  const foldedBias = Float32Array.from(
    scale,
    (s, o) => beta[o] + (bias[o] - mean[o]) * s,
  );
  return { weight: folded, shape, bias: foldedBias };
}

/** Adds a ConvTranspose node with folded weights; returns its output's name. */
function addConvTranspose(
  graph: OnnxGraph,
  name: string,
  input: string,
  conv: ConvTranspose2d,
  folded: FoldedConv,
): string {
  const k = folded.shape[2];
  const p = conv.padding;
  return graph.node(
    "ConvTranspose",
    [
      input,
      graph.constant(`${name}.weight`, folded.shape, folded.weight),
      graph.constant(`${name}.bias`, [folded.shape[1]], folded.bias),
    ],
    `${name}.out`,
    { kernel_shape: [k, k], strides: [conv.stride, conv.stride], pads: [p, p, p, p] },
  );
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
  let h = head.node(
    "Reshape",
    [
      head.input(ONNX_NAMES.latent, [latent]),
      head.int64Constant("latent_shape", [-1, latent, 1, 1]),
    ],
    "latent_4d",
  );
  for (const [k, { name, conv, norm }] of generator.blocks.entries()) {
    const out = addConvTranspose(head, name, h, conv, await foldConv(conv, norm));
    const last = k === generator.blocks.length - 1;
    h = head.node("Relu", [out], last ? ONNX_NAMES.maps : `${name}.relu`);
  }
  head.output(ONNX_NAMES.maps, mapsShape);

  const tail = new OnnxGraph();
  const rgb = addConvTranspose(
    tail,
    "rgb",
    tail.input(ONNX_NAMES.maps, mapsShape),
    generator.rgb,
    await foldConv(generator.rgb),
  );
  tail.node("Tanh", [rgb], ONNX_NAMES.image);
  tail.output(ONNX_NAMES.image, [3, resolution, resolution]);

  return {
    head: head.encode({ ...info, name: "head" }),
    tail: tail.encode({ ...info, name: "tail" }),
  };
}
