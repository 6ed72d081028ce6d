/**
 * Backward passes written as ONNX nodes: given the forward steps a graph
 * ran (convolutions with their weights, ReLU, tanh, reshape) and an
 * upstream gradient u at the last step's output, {@link addBackward} adds
 * the nodes of J^T u at the first step's input. Each step's transpose:
 *
 * - Conv (stride s, pads p) -> ConvTranspose with the same weight, s and p
 *   (and the reverse), since a convolution's transpose is the transposed
 *   convolution of the same kernel; biases do not enter;
 * - ReLU -> u where its output is above 0, else 0;
 * - tanh -> u (1 - y^2) with y its output;
 * - Reshape -> Reshape back.
 *
 * @module
 */

import type { ConvolutionStep } from "./convolution_onnx.ts";
import type { OnnxGraph } from "./onnx.ts";

/** One forward step of an exported graph, as its backward pass needs it. */
export type ForwardStep =
  | ConvolutionStep
  | { op: "Relu" | "Tanh"; input: string; output: string }
  /** A reshape whose input was [N, ...shape]. */
  | { op: "Reshape"; input: string; output: string; shape: number[] };

/** ONNX's TensorProto data type of float32 (Cast's `to`). */
const FLOAT = 1;

/**
 * Adds the transpose of `steps` applied to `upstream` (a value shaped like
 * the last step's output); its result is named `output` (shaped like the
 * first step's input). Returns `output`.
 */
export function addBackward(
  graph: OnnxGraph,
  steps: readonly ForwardStep[],
  upstream: string,
  output: string,
): string {
  let g = upstream;
  // Added on first use: onnxruntime warns of unused initialisers.
  const constants = new Map<number, string>();
  const scalar = (value: number) => {
    if (!constants.has(value)) {
      constants.set(value, graph.constant(`backward.scalar${value}`, [1], Float32Array.of(value)));
    }
    return constants.get(value)!;
  };
  for (let k = steps.length - 1; k >= 0; k--) {
    const step = steps[k];
    const name = k === 0 ? output : `${step.input}.grad`;
    const at = `${step.output}.backward`;
    switch (step.op) {
      case "Relu": {
        const on = graph.node("Greater", [step.output, scalar(0)], `${at}.on`);
        const mask = graph.node("Cast", [on], `${at}.mask`, { to: FLOAT });
        g = graph.node("Mul", [g, mask], name);
        break;
      }
      case "Tanh": {
        const square = graph.node("Mul", [step.output, step.output], `${at}.square`);
        const slope = graph.node("Sub", [scalar(1), square], `${at}.slope`);
        g = graph.node("Mul", [g, slope], name);
        break;
      }
      case "Reshape":
        g = graph.node(
          "Reshape",
          [g, graph.int64Constant(`${at}.shape`, [-1, ...step.shape])],
          name,
        );
        break;
      case "Conv":
      case "ConvTranspose": {
        const { kernel: kk, stride: s, padding: p } = step;
        g = graph.node(step.op === "Conv" ? "ConvTranspose" : "Conv", [g, step.weight], name, {
          kernel_shape: [kk, kk],
          strides: [s, s],
          pads: [p, p, p, p],
        });
        break;
      }
    }
  }
  return g;
}
