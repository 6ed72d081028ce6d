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

import { Conv2d } from "../engine/nn.ts";
import { asyncScope } from "../engine/tensor.ts";
import type { GanGenerator, UpBlock } from "../networks/generator.ts";
import { type ModelInfo, OnnxGraph } from "./onnx.ts";
import { addConvolution } from "./convolution_onnx.ts";

/** Input and output names of the two models. */
export const ONNX_NAMES = { latent: "z", maps: "maps", image: "image" } as const;

/** The two serialised models. */
export interface GeneratorOnnx {
  head: Uint8Array;
  tail: Uint8Array;
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
