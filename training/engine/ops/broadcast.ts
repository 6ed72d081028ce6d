/**
 * Broadcasting (numpy rules) and the element-wise map over broadcast
 * operands that the element-wise ops, reductions and backward functions
 * build on. It records no gradient, so it sits below every op.
 *
 * @module
 */

import { broadcastView, denseView } from "../backend.ts";
import { backend } from "../engine.ts";
import { ShapeError } from "../errors.ts";
import { empty, type Shape, Tensor } from "../tensor.ts";

/** A tensor or a scalar. */
export type Operand = Tensor | number;

/** Shape that all `shapes` broadcast to (numpy rules). */
export function broadcastShapes(...shapes: Shape[]): Shape {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const shape of shapes) {
    for (let k = 0; k < shape.length; k++) {
      const j = rank - shape.length + k;
      const d = shape[k];
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j]) {
        throw new ShapeError(
          `Shapes ${shapes.map((s) => `[${s.join(", ")}]`).join(" and ")} do not broadcast ` +
            `(dimension ${j}: ${out[j]} vs ${d}).`,
        );
      }
    }
  }
  return out;
}

/**
 * A new tensor computed element-wise by a formula (see `backend.ts`) in which
 * `$0`, `$1`, ... stand for the operands (tensors broadcast to a common
 * shape, numbers passed as scalar parameters, so that other values compile
 * no new kernel). Records no gradient: ops and backward
 * functions build on it.
 */
export function mapOperands(name: string, operands: readonly Operand[], expr: string): Tensor {
  const tensors = operands.filter((o): o is Tensor => o instanceof Tensor);
  if (tensors.length === 0) {
    throw new ShapeError(`${name} needs at least one tensor operand.`);
  }
  const shape = broadcastShapes(...tensors.map((t) => t.shape));
  const out = empty(shape);
  const scalars: number[] = [];
  const names = operands.map((o) => {
    if (o instanceof Tensor) return `x${tensors.indexOf(o)}`;
    scalars.push(o);
    return `s${scalars.length - 1}`;
  });
  const formula = expr.replace(/\$(\d+)/g, (_, k) => names[Number(k)]);
  backend().map({
    name,
    shape,
    inputs: tensors.map((t) => ({ buffer: t.buffer, view: broadcastView(t.shape, shape) })),
    outputs: [{ buffer: out.buffer, view: denseView(shape), expr: formula }],
    scalars,
  });
  return out;
}
