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

/** `x` broadcast to `shape` as a dense copy. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  const out = empty(shape);
  backend().map({
    name: "broadcast",
    shape,
    inputs: [{ buffer: x.buffer, view: broadcastView(x.shape, shape) }],
    outputs: [{ buffer: out.buffer, view: denseView(shape), expr: "x0" }],
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
  record([x], out, (g) => {
    const kept = reducedShape(x.shape, axes, true);
    const grad = broadcastTo(g.view(kept), x.shape);
    return [scale === 1 ? grad : mapOperands("mean_grad", [grad, scale], "$0 * $1")];
  });
  return out;
}

/** Sum over `axes` (all by default). */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return reduceSum(x, normalizeAxes(axes, x.rank), keepDims, 1);
}

/** Mean over `axes` (all by default). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const list = normalizeAxes(axes, x.rank);
  const count = list.reduce((a, k) => a * x.shape[k], 1);
  return reduceSum(x, list, keepDims, count === 0 ? 0 : 1 / count);
}
