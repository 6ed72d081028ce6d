/**
 * Nearest-neighbour 2x upsampling of NCHW tensors, with its gradient.
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
import { empty, type Shape, type Tensor } from "../tensor.ts";

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
    output: out.buffer,
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
