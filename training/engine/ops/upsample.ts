/**
 * Nearest-neighbour 2x upsampling of NCHW tensors, with its gradient, and
 * the transposed-convolution kernel equal to upsampling followed by a 3x3
 * convolution.
 *
 * Both directions are one kernel: the output [N, C, 2H, 2W] is read as
 * [N * C * H, 2, W, 2] (input row, its copy, input column, its copy), so the
 * forward is a map in which the input is a view with stride 0 along the two
 * copy axes, and the backward is a sum over those two axes.
 *
 * @module
 */

import { denseView } from "../backend.ts";
import { backend } from "../engine.ts";
import { ShapeError } from "../errors.ts";
import { record } from "../tape.ts";
import { empty, type Shape, type Tensor, tensor } from "../tensor.ts";
import { permute } from "./layout.ts";
import { matmul } from "./matmul.ts";

/** The output as [input rows, row copy, input columns, column copy]. */
function blockShape([n, c, h, w]: Shape): Shape {
  return [n * c * h, 2, w, 2];
}

/** Sums each 2x2 block of `g` ([N, C, 2H, 2W]) into a tensor of `shape` ([N, C, H, W]). */
function sumBlocks(g: Tensor, shape: Shape): Tensor {
  const blocks = blockShape(shape);
  const out = empty(shape);
  backend().reduce({
    name: "upsample_nearest2x_grad",
    shape: blocks,
    axes: [1, 3],
    inputs: [{ buffer: g.buffer, view: denseView(blocks) }],
    outputs: [{ buffer: out.buffer }],
  });
  return out;
}

/**
 * Repeats each pixel of an NCHW tensor in a 2x2 block: [N, C, H, W] becomes
 * [N, C, 2H, 2W]. The gradient sums each 2x2 block of the output's gradient.
 */
export function upsampleNearest2x(x: Tensor): Tensor {
  if (x.rank !== 4) {
    throw new ShapeError(
      `upsampleNearest2x needs an NCHW input of rank 4, got [${x.shape.join(", ")}].`,
    );
  }
  const [n, c, h, w] = x.shape;
  const blocks = blockShape(x.shape);
  const y = empty([n, c, 2 * h, 2 * w]);
  backend().map({
    name: "upsample_nearest2x",
    shape: blocks,
    inputs: [{ buffer: x.buffer, view: { strides: [w, 0, 1, 0], offset: 0 } }],
    outputs: [{ buffer: y.buffer, view: denseView(blocks), expr: "x0" }],
  });
  record([x], y, (g) => [sumBlocks(g, x.shape)]);
  return y;
}

/**
 * TAPS_TO_KERNEL[k][t] is 1 when tap t of a 3x3 kernel (padding 1) applied
 * after nearest 2x upsampling lands on index k of the equivalent 4x4
 * transposed-convolution kernel (stride 2, padding 1), per axis: even output
 * rows read input rows i - 1 (tap 0, index 3) and i (taps 1 and 2, index 1),
 * odd ones rows i (taps 0 and 1, index 2) and i + 1 (tap 2, index 0).
 */
const TAPS_TO_KERNEL = [0, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0];

/**
 * The 4x4 stride-2 padding-1 transposed-convolution kernel [Cin, Cout, 4, 4]
 * that computes exactly what nearest 2x upsampling followed by the 3x3
 * convolution `w` ([Cout, Cin, 3, 3], padding 1) computes. Running that form
 * takes 16 multiply-adds per input pixel and channel pair instead of 36, and
 * export writes it as one ConvTranspose. Differentiable in `w`.
 */
export function upsampledConvKernel(w: Tensor): Tensor {
  if (w.rank !== 4 || w.shape[2] !== 3 || w.shape[3] !== 3) {
    throw new ShapeError(
      `upsampledConvKernel needs a 3x3 kernel [Cout, Cin, 3, 3], got [${w.shape.join(", ")}].`,
    );
  }
  const taps = tensor(TAPS_TO_KERNEL, [4, 3]);
  // [Cout, Cin, t, u] -> [Cout, Cin, a, b] = sum over t, u of A[a, t] w[t, u] A[b, u].
  const kernel = matmul(taps, matmul(w, taps, { transposeB: true }));
  return permute(kernel, [1, 0, 2, 3]);
}
