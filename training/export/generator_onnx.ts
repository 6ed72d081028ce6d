/**
 * The generator as ONNX models, split at its target layer as the server
 * uses them:
 *
 *   head.onnx      z [N, Z] -> maps [N, M, S/2, S/2] (after the target layer's ReLU)
 *   tail.onnx      maps [N, M, S/2, S/2] -> image [N, 3, S, S] in [-1, 1]
 *   head_vjp.onnx  z, u [N, M, S/2, S/2] -> z_grad [N, Z]: the head's Jacobian, transposed, times u
 *   tail_vjp.onnx  maps, u [N, 3, S, S] -> maps_grad [N, M, S/2, S/2]: the same for the tail
 *
 * Each forward node mirrors a step of {@link GanGenerator.head} and
 * {@link GanGenerator.tail}: every resolution-raising layer is one
 * ConvTranspose (upsampling with a 3x3 convolution as its equal 4x4 kernel),
 * with batch norm (inference mode, running statistics) folded in. The
 * vector-Jacobian products (`gradient_onnx.ts`) rerun that forward pass and
 * then its steps' transposes in reverse, so that a server takes gradient
 * steps in the latent (refining an encoded photo, Langevin dynamics) with
 * onnxruntime alone. A VJP stores none of the forward pass's weights: it
 * reads them from its forward model's file (`WEIGHT_SOURCES` of the bundle
 * format), so the bundle holds each weight once.
 *
 * @module
 */

import { Conv2d } from "../engine/nn.ts";
import { asyncScope } from "../engine/tensor.ts";
import type { GanGenerator, UpBlock } from "../networks/generator.ts";
import { type ModelInfo, OnnxGraph, type WeightPrecision } from "./onnx.ts";
import { BUNDLE_FILES, WEIGHT_SOURCES } from "../../model/manifest.ts";
import { addConvolution } from "./convolution_onnx.ts";
import { addBackward, type ForwardStep } from "./gradient_onnx.ts";

/** Input and output names of the models. */
export const ONNX_NAMES = {
  latent: "z",
  maps: "maps",
  image: "image",
  /** The vector a VJP model multiplies its Jacobian's transpose with. */
  upstream: "u",
  latentGrad: "z_grad",
  mapsGrad: "maps_grad",
} as const;

/** The serialised models. */
export interface GeneratorOnnx {
  head: Uint8Array;
  tail: Uint8Array;
  headVjp: Uint8Array;
  tailVjp: Uint8Array;
}

/**
 * Adds blocks (a transposed convolution with its batch norm folded in, then
 * ReLU) to `steps`; returns the last output.
 */
async function addBlocks(
  graph: OnnxGraph,
  steps: ForwardStep[],
  blocks: readonly UpBlock[],
  input: string,
  lastName?: string,
): Promise<string> {
  let h = input;
  for (const [k, { name, conv, norm }] of blocks.entries()) {
    const step = await asyncScope(() =>
      addConvolution(graph, "ConvTranspose", name, h, conv, conv.transposedKernel(), norm)
    );
    const output = k === blocks.length - 1 && lastName ? lastName : `${name}.relu`;
    h = graph.node("Relu", [step.output], output);
    steps.push(step, { op: "Relu", input: step.output, output: h });
  }
  return h;
}

/** The head's nodes from `z`; returns its steps (the last output is `maps`). */
async function addHead(graph: OnnxGraph, generator: GanGenerator): Promise<ForwardStep[]> {
  const { latent } = generator.config;
  const z = graph.input(ONNX_NAMES.latent, [latent]);
  const latent4d = graph.node(
    "Reshape",
    [z, graph.int64Constant("latent_shape", [-1, latent, 1, 1])],
    "latent_4d",
  );
  const steps: ForwardStep[] = [{ op: "Reshape", input: z, output: latent4d, shape: [latent] }];
  await addBlocks(graph, steps, generator.blocks, latent4d, ONNX_NAMES.maps);
  return steps;
}

/** The tail's nodes from `maps`; returns its steps (the last output is `image`). */
async function addTail(graph: OnnxGraph, generator: GanGenerator): Promise<ForwardStep[]> {
  const { targetChannels, resolution } = generator.config;
  const half = resolution / 2;
  const steps: ForwardStep[] = [];
  const maps = graph.input(ONNX_NAMES.maps, [targetChannels, half, half]);
  const h = await addBlocks(graph, steps, generator.tailBlocks, maps);
  const { rgb } = generator;
  const op = rgb instanceof Conv2d ? "Conv" : "ConvTranspose";
  const rgbStep = await addConvolution(graph, op, "rgb", h, rgb, rgb.weight.value);
  const image = graph.node("Tanh", [rgbStep.output], ONNX_NAMES.image);
  steps.push(rgbStep, { op: "Tanh", input: rgbStep.output, output: image });
  return steps;
}

/**
 * Serialises `generator`'s head, tail and their VJPs (its current weights and
 * running statistics), the VJPs reading their weights from the head's and
 * the tail's files as a bundle names them.
 */
export async function generatorOnnx(
  generator: GanGenerator,
  info: Omit<ModelInfo, "name">,
  precision?: WeightPrecision,
): Promise<GeneratorOnnx> {
  const { latent, targetChannels, resolution } = generator.config;
  const half = resolution / 2;
  const mapsShape = [targetChannels, half, half];
  const imageShape = [3, resolution, resolution];

  const head = new OnnxGraph(precision);
  await addHead(head, generator);
  head.output(ONNX_NAMES.maps, mapsShape);

  const tail = new OnnxGraph(precision);
  await addTail(tail, generator);
  tail.output(ONNX_NAMES.image, imageShape);

  /** A VJP model: the forward nodes, then their transposes applied to the upstream input. */
  const vjp = async (
    addForward: typeof addHead,
    upstreamShape: number[],
    output: string,
    outputShape: number[],
  ) => {
    const graph = new OnnxGraph(precision);
    const steps = await addForward(graph, generator);
    addBackward(graph, steps, graph.input(ONNX_NAMES.upstream, upstreamShape), output);
    graph.output(output, outputShape);
    return graph;
  };
  const headVjp = await vjp(addHead, mapsShape, ONNX_NAMES.latentGrad, [latent]);
  const tailVjp = await vjp(addTail, imageShape, ONNX_NAMES.mapsGrad, mapsShape);

  const forward = {
    head: head.encode({ ...info, name: "head" }),
    tail: tail.encode({ ...info, name: "tail" }),
  };
  /** Where the bundle's VJP file `part` reads its weights (its forward model's file). */
  const source = (part: keyof typeof WEIGHT_SOURCES) => ({
    location: BUNDLE_FILES[WEIGHT_SOURCES[part]],
    model: forward[WEIGHT_SOURCES[part]],
  });
  return {
    ...forward,
    headVjp: headVjp.encode({ ...info, name: "head_vjp" }, source("headVjp")),
    tailVjp: tailVjp.encode({ ...info, name: "tail_vjp" }, source("tailVjp")),
  };
}
