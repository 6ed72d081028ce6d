/**
 * The encoder as an ONNX model, as the server runs it:
 *
 *   encoder.onnx  image [N, 3, S, S] in [-1, 1] -> z [N, Z]
 *
 * Each node mirrors a step of {@link GanEncoder.forward}: a Conv per block
 * (inference-mode batch norm folded in) and LeakyRelu, the last Conv, and a
 * Reshape to [N, Z].
 *
 * @module
 */

import { asyncScope } from "../engine/tensor.ts";
import { LEAKY_SLOPE } from "../networks/downsampling.ts";
import type { GanEncoder } from "../networks/encoder.ts";
import { type ModelInfo, OnnxGraph, type WeightPrecision } from "./onnx.ts";
import { addConvolution } from "./convolution_onnx.ts";
import { ONNX_NAMES } from "./generator_onnx.ts";

/** Serialises `encoder` (its current weights and running statistics). */
export async function encoderOnnx(
  encoder: GanEncoder,
  info: Omit<ModelInfo, "name">,
  precision?: WeightPrecision,
): Promise<Uint8Array> {
  const { resolution, latent } = encoder.sizes;
  const graph = new OnnxGraph(precision);
  let h = graph.input(ONNX_NAMES.image, [3, resolution, resolution]);
  for (const [k, { conv, norm }] of encoder.blocks.entries()) {
    const name = `block${resolution / 2 ** (k + 1)}`;
    const { output: out } = await asyncScope(() =>
      addConvolution(graph, "Conv", name, h, conv, conv.weight.value, norm)
    );
    h = graph.node("LeakyRelu", [out], `${name}.leaky_relu`, { alpha: LEAKY_SLOPE });
  }
  const { output } = encoder;
  const last = await addConvolution(graph, "Conv", "latent", h, output, output.weight.value);
  graph.node(
    "Reshape",
    [last.output, graph.int64Constant("latent_shape", [-1, latent])],
    ONNX_NAMES.latent,
  );
  graph.output(ONNX_NAMES.latent, [latent]);
  return graph.encode({ ...info, name: "encoder" });
}
