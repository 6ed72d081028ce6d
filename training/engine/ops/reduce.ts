/**
 * Sums and means over axes, with their gradients.
 *
 * @module
 */

import { broadcastView, denseView } from "../backend.ts";
import { backend } from "../engine.ts";
import { ShapeError } from "../errors.ts";
import { record } from "../tape.ts";
import { empty, type Shape, type Tensor } from "../tensor.ts";
import { mapOperands } from "./broadcast.ts";
import { sigmoidFormula, softplusFormula } from "./formulas.ts";

/** Normalises `axes` (negative counts from the end; undefined = all). */
export function normalizeAxes(
  axes: number | readonly number[] | undefined,
  rank: number,
): number[] {
  const list = axes === undefined
    ? [...Array(rank).keys()]
    : typeof axes === "number"
    ? [axes]
    : [...axes];
  const out = list.map((a) => (a < 0 ? a + rank : a));
  for (const a of out) {
    if (!Number.isInteger(a) || a < 0 || a >= rank) {
      throw new ShapeError(`Axis ${a} is out of range for a tensor of rank ${rank}.`);
    }
  }
  if (new Set(out).size !== out.length) {
    throw new ShapeError(`Repeated axis in [${list.join(", ")}].`);
  }
  return out.sort((x, y) => x - y);
}

function reducedShape(shape: Shape, axes: number[], keepDims: boolean): number[] {
  return keepDims
    ? shape.map((d, k) => (axes.includes(k) ? 1 : d))
    : shape.filter((_, k) => !axes.includes(k));
}

/** `x` broadcast to `shape` as a dense copy, times `scale` (a gradient of sums and means). */
export function broadcastTo(x: Tensor, shape: Shape, scale = 1): Tensor {
  const out = empty(shape);
  backend().map({
    name: "broadcast",
    shape,
    inputs: [{ buffer: x.buffer, view: broadcastView(x.shape, shape) }],
    outputs: [{ buffer: out.buffer, view: denseView(shape), expr: "x0 * s0" }],
    scalars: [scale],
  });
  return out;
}

function reduceSum(x: Tensor, axes: number[], keepDims: boolean, scale: number): Tensor {
  const out = empty(reducedShape(x.shape, axes, keepDims));
  backend().reduce({
    name: "sum",
    shape: x.shape,
    axes,
    inputs: [{ buffer: x.buffer, view: denseView(x.shape) }],
    outputs: [{ buffer: out.buffer, scale }],
  });
  record([x], out, (g) => [broadcastTo(g.view(reducedShape(x.shape, axes, true)), x.shape, scale)]);
  return out;
}

/** Sum over `axes` (all by default). */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return reduceSum(x, normalizeAxes(axes, x.rank), keepDims, 1);
}

/**
 * The mean over all elements of softplus(sign * x) = log(1 + e^(sign * x)),
 * in one reduction (and one map for its gradient): the binary cross-entropy
 * of logits x against label 0 (sign 1) or 1 (sign -1), without the passes
 * that negating, softplus and mean would each make.
 */
export function meanSoftplus(x: Tensor, sign: 1 | -1): Tensor {
  const out = empty([]);
  const scale = x.size === 0 ? 0 : 1 / x.size;
  const y = sign === 1 ? "x0" : "-x0";
  backend().reduce({
    name: "mean_softplus",
    shape: x.shape,
    axes: [...Array(x.rank).keys()],
    inputs: [{ buffer: x.buffer, view: denseView(x.shape) }],
    outputs: [{ buffer: out.buffer, expr: softplusFormula(y), scale }],
  });
  // d/dx = sign * sigmoid(sign * x) / count.
  record([x], out, (g) => [
    mapOperands(
      "mean_softplus_grad",
      [g, x, sign * scale],
      `$2 * $0 * ${sigmoidFormula(sign === 1 ? "$1" : "-$1")}`,
    ),
  ]);
  return out;
}

/** Mean over `axes` (all by default). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const list = normalizeAxes(axes, x.rank);
  const count = list.reduce((a, k) => a * x.shape[k], 1);
  return reduceSum(x, list, keepDims, count === 0 ? 0 : 1 / count);
}
