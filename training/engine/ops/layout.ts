/**
 * Layout ops: reshape, flatten, permute, transpose, slice, concat and gather,
 * each with its gradient.
 *
 * `reshape` and `flatten` are views sharing storage; the others write a dense
 * copy through strided views (see `kernels/map.ts`), or through the gather
 * kernels for index lists.
 *
 * @module
 */

import { contiguousStrides, denseView, type GatherDims, type Operand } from "../backend.ts";
import { backend } from "../engine.ts";
import { ShapeError } from "../errors.ts";
import { record } from "../tape.ts";
import { empty, type Shape, sizeOf, type Tensor, zeros } from "../tensor.ts";

function show(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** `axis` counted from 0 (negative counts from the end); throws if out of range. */
function normalizeAxis(op: string, axis: number, shape: Shape): number {
  const rank = shape.length;
  const normalized = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || normalized < 0 || normalized >= rank) {
    const allowed = rank === 0
      ? "a rank-0 tensor has no axes"
      : `use an integer in [${-rank}, ${rank - 1}]`;
    throw new ShapeError(
      `${op}: axis ${axis} is out of range for shape ${show(shape)}; ${allowed}.`,
    );
  }
  return normalized;
}

/** Records a dense-or-strided copy `output[view] = input[view]` over `shape`. */
function copy(name: string, shape: Shape, input: Operand, output: Operand): void {
  backend().map({ name, shape, inputs: [input], outputs: [{ ...output, expr: "x0" }] });
}

/** `shape` with its one -1 entry (if any) inferred from `size`; throws on a mismatch. */
function resolveShape(from: Shape, size: number, shape: Shape): number[] {
  const invalid = shape.find((d) => !Number.isInteger(d) || d < -1);
  if (invalid !== undefined) {
    throw new ShapeError(
      `reshape: dimension ${invalid} in ${show(shape)} is invalid; use integers >= 0, ` +
        "or -1 once to infer a dimension.",
    );
  }
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1) {
    throw new ShapeError(
      `reshape: ${show(shape)} has ${inferred} dimensions of -1; at most one can be inferred.`,
    );
  }
  const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
  if (inferred === 1) {
    if (known === 0 || size % known !== 0) {
      throw new ShapeError(
        `reshape: cannot view ${show(from)} (${size} elements) as ${show(shape)}: ` +
          `${size} is not a multiple of the other dimensions' product ${known}.`,
      );
    }
    return shape.map((d) => (d === -1 ? size / known : d));
  }
  if (known !== size) {
    throw new ShapeError(
      `reshape: cannot view ${show(from)} (${size} elements) as ${show(shape)} ` +
        `(${known} elements); the element counts must match.`,
    );
  }
  return [...shape];
}

/**
 * `x` with another shape of the same size, sharing its storage (no copy).
 * One dimension may be -1: it is inferred from the others.
 */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const out = x.view(resolveShape(x.shape, x.size, shape));
  record([x], out, (g) => [g.view(x.shape)]);
  return out;
}

/**
 * `x` with the dimensions from `startAxis` on merged into one (a view, like
 * {@link reshape}). The default keeps the batch axis: [N, C, H, W] -> [N, C*H*W].
 */
export function flatten(x: Tensor, startAxis = 1): Tensor {
  const start = normalizeAxis("flatten", startAxis, x.shape);
  return reshape(x, [...x.shape.slice(0, start), sizeOf(x.shape.slice(start))]);
}

/**
 * A dense copy of `x` with its axes reordered: output axis k is input axis
 * `perm[k]` (negative entries count from the end).
 */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const rank = x.rank;
  const axes = perm.map((p) => (p < 0 ? p + rank : p));
  const valid = perm.length === rank &&
    axes.every((a) => Number.isInteger(a) && a >= 0 && a < rank) &&
    new Set(axes).size === rank;
  if (!valid) {
    throw new ShapeError(
      `permute: ${show(perm)} is not a permutation of the ${rank} axes of ${show(x.shape)}; ` +
        `list each axis 0..${rank - 1} exactly once.`,
    );
  }
  const shape = axes.map((a) => x.shape[a]);
  const inStrides = contiguousStrides(x.shape);
  const out = empty(shape);
  copy(
    "permute",
    shape,
    { buffer: x.buffer, view: { strides: axes.map((a) => inStrides[a]), offset: 0 } },
    { buffer: out.buffer, view: denseView(shape) },
  );
  record([x], out, (g) => {
    const inverse = new Array<number>(rank);
    axes.forEach((a, k) => (inverse[a] = k));
    return [permute(g, inverse)];
  });
  return out;
}

/** A dense copy of `x` with axes `a` and `b` swapped (negative counts from the end). */
export function transpose(x: Tensor, a: number, b: number): Tensor {
  const perm = x.shape.map((_, k) => k);
  const i = normalizeAxis("transpose", a, x.shape), j = normalizeAxis("transpose", b, x.shape);
  [perm[i], perm[j]] = [perm[j], perm[i]];
  return permute(x, perm);
}

/**
 * A dense copy of entries `start .. start + length - 1` of `x` along `axis`
 * (negative counts from the end), e.g. a channel range of an NCHW map.
 */
export function slice(x: Tensor, axis: number, start: number, length: number): Tensor {
  const k = normalizeAxis("slice", axis, x.shape);
  const size = x.shape[k];
  if (
    !Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 ||
    start + length > size
  ) {
    throw new ShapeError(
      `slice: start ${start} and length ${length} do not fit axis ${axis} of ${show(x.shape)} ` +
        `(size ${size}); need integers with 0 <= start, 0 <= length, start + length <= ${size}.`,
    );
  }
  const shape = x.shape.map((d, j) => (j === k ? length : d));
  // The range inside x: x's own strides, starting `start` steps along the axis.
  const range = {
    strides: contiguousStrides(x.shape),
    offset: start * sizeOf(x.shape.slice(k + 1)),
  };
  const out = empty(shape);
  copy("slice", shape, { buffer: x.buffer, view: range }, {
    buffer: out.buffer,
    view: denseView(shape),
  });
  record([x], out, (g) => {
    const grad = zeros(x.shape);
    copy("slice_grad", shape, { buffer: g.buffer, view: denseView(shape) }, {
      buffer: grad.buffer,
      view: range,
    });
    return [grad];
  });
  return out;
}

/**
 * The tensors `xs` joined along `axis` (negative counts from the end). All
 * must have the same rank and the same sizes on every other axis.
 */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) {
    throw new ShapeError("concat: needs at least one tensor, got an empty list.");
  }
  const first = xs[0].shape;
  const k = normalizeAxis("concat", axis, first);
  xs.forEach((x, i) => {
    if (x.rank !== first.length || x.shape.some((d, j) => j !== k && d !== first[j])) {
      throw new ShapeError(
        `concat: input ${i} has shape ${show(x.shape)}, which does not match input 0's ` +
          `${show(first)} on the axes other than ${axis}; only the size along axis ${axis} ` +
          "may differ.",
      );
    }
  });
  const starts: number[] = [];
  let total = 0;
  for (const x of xs) {
    starts.push(total);
    total += x.shape[k];
  }
  const shape = first.map((d, j) => (j === k ? total : d));
  const outStrides = contiguousStrides(shape);
  const out = empty(shape);
  xs.forEach((x, i) => {
    // Input i fills the output's range starting at starts[i] along the axis.
    copy("concat", x.shape, { buffer: x.buffer, view: denseView(x.shape) }, {
      buffer: out.buffer,
      view: { strides: outStrides, offset: starts[i] * outStrides[k] },
    });
  });
  record([...xs], out, (g) => xs.map((x, i) => slice(g, k, starts[i], x.shape[k])));
  return out;
}

/** `shape` seen as [outer, shape[axis], inner] around `axis`. */
function gatherDims(shape: Shape, axis: number): GatherDims {
  return {
    outer: sizeOf(shape.slice(0, axis)),
    source: shape[axis],
    inner: sizeOf(shape.slice(axis + 1)),
  };
}

/**
 * The entries of `x` at `indices` along `axis` (negative counts from the
 * end), in that order; repeats are allowed (e.g. reorder the batch, or pick
 * channels). The output's size along `axis` is `indices.length`. The gradient
 * sums over repeats, deterministically.
 */
export function gather(x: Tensor, axis: number, indices: readonly number[]): Tensor {
  const k = normalizeAxis("gather", axis, x.shape);
  const size = x.shape[k];
  indices.forEach((index, position) => {
    if (!Number.isInteger(index) || index < 0 || index >= size) {
      const allowed = size === 0
        ? "that axis is empty, so only an empty index list fits"
        : `indices must be integers in [0, ${size - 1}]`;
      throw new ShapeError(
        `gather: index ${index} (position ${position}) is out of range for axis ${axis} of ` +
          `${show(x.shape)}; ${allowed}.`,
      );
    }
  });
  // A private copy: the caller may change its array before the backward pass.
  const picks = Uint32Array.from(indices);
  const dims = gatherDims(x.shape, k);
  const out = empty(x.shape.map((d, j) => (j === k ? picks.length : d)));
  backend().gather({ transpose: false, input: x.buffer, output: out.buffer, dims, indices: picks });
  record([x], out, (g) => {
    const grad = empty(x.shape);
    backend().gather({
      transpose: true,
      input: g.buffer,
      output: grad.buffer,
      dims,
      indices: picks,
    });
    return [grad];
  });
  return out;
}
