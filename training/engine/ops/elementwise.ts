/**
 * Element-wise ops with numpy broadcasting, each with its gradient.
 *
 * Operands may be tensors or numbers (numbers are passed as uniform
 * parameters, so changing them does not compile a new kernel).
 *
 * @module
 */

import { record } from "../tape.ts";
import { type Shape, Tensor } from "../tensor.ts";
import { mapOperands, type Operand } from "./broadcast.ts";
import { sum } from "./reduce.ts";
import {
  activationFormula,
  activationGradientFormula,
  sigmoidFormula,
  softplusFormula,
} from "./formulas.ts";

/** Sums `t` over broadcast dimensions down to `shape` (the gradient of broadcasting). */
export function sumTo(t: Tensor, shape: Shape): Tensor {
  if (t.shape.length === shape.length && t.shape.every((d, k) => d === shape[k])) return t;
  const lead = t.shape.length - shape.length;
  const axes = t.shape.map((_, k) => k).filter((k) => k < lead || shape[k - lead] === 1);
  return sum(t, axes).view(shape);
}

function binary(
  name: string,
  a: Operand,
  b: Operand,
  expr: string,
  backward: (
    g: Tensor,
    out: Tensor,
    needA: boolean,
    needB: boolean,
  ) => [Tensor | null, Tensor | null],
): Tensor {
  const out = mapOperands(name, [a, b], expr);
  const inputs = [a, b].filter((o): o is Tensor => o instanceof Tensor);
  record(inputs, out, (g, needed) => {
    // needed[] follows `inputs`, which omits number operands.
    const needA = a instanceof Tensor && needed[0];
    const needB = b instanceof Tensor && needed[a instanceof Tensor ? 1 : 0];
    const [ga, gb] = backward(g, out, needA, needB);
    const grads: (Tensor | null)[] = [];
    if (a instanceof Tensor) grads.push(ga);
    if (b instanceof Tensor) grads.push(gb);
    return grads;
  });
  return out;
}

/** a + b */
export function add(a: Operand, b: Operand): Tensor {
  return binary("add", a, b, "$0 + $1", (g) => [g, g]);
}

/** a - b */
export function sub(a: Operand, b: Operand): Tensor {
  return binary("sub", a, b, "$0 - $1", (g, _, __, needB) => [g, needB ? neg(g) : null]);
}

/** a * b */
export function mul(a: Operand, b: Operand): Tensor {
  return binary("mul", a, b, "$0 * $1", (g, _, needA, needB) => [
    needA ? mapOperands("mul_grad", [g, b], "$0 * $1") : null,
    needB ? mapOperands("mul_grad", [g, a], "$0 * $1") : null,
  ]);
}

/** a / b */
export function div(a: Operand, b: Operand): Tensor {
  return binary("div", a, b, "$0 / $1", (g, _, needA, needB) => [
    needA ? mapOperands("div_grad_a", [g, b], "$0 / $1") : null,
    needB ? mapOperands("div_grad_b", [g, a, b], "-$0 * $1 / ($2 * $2)") : null,
  ]);
}

/** max(a, b) element-wise; the gradient goes to `a` where a >= b. */
export function maximum(a: Operand, b: Operand): Tensor {
  return binary("maximum", a, b, "max($0, $1)", (g) => [
    a instanceof Tensor
      ? mapOperands("maximum_grad_a", [g, a, b], "select(0.0, $0, $1 >= $2)")
      : null,
    b instanceof Tensor
      ? mapOperands("maximum_grad_b", [g, a, b], "select($0, 0.0, $1 >= $2)")
      : null,
  ]);
}

function unary(
  name: string,
  x: Tensor,
  expr: string,
  backward: (g: Tensor, y: Tensor) => Tensor,
): Tensor {
  const y = mapOperands(name, [x], expr);
  record([x], y, (g) => [backward(g, y)]);
  return y;
}

/** -x */
export function neg(x: Tensor): Tensor {
  return unary("neg", x, "-$0", (g) => neg(g));
}

/** x * x */
export function square(x: Tensor): Tensor {
  return unary("square", x, "$0 * $0", (g) => mapOperands("square_grad", [g, x], "2.0 * $0 * $1"));
}

/** sqrt(x) */
export function sqrt(x: Tensor): Tensor {
  return unary("sqrt", x, "sqrt($0)", (g, y) => mapOperands("sqrt_grad", [g, y], "0.5 * $0 / $1"));
}

/** |x| (gradient sign(x), 0 at 0) */
export function abs(x: Tensor): Tensor {
  return unary("abs", x, "abs($0)", (g) => mapOperands("abs_grad", [g, x], "$0 * sign($1)"));
}

/** e^x */
export function exp(x: Tensor): Tensor {
  return unary("exp", x, "exp($0)", (g, y) => mul(g, y));
}

/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return unary("log", x, "log($0)", (g) => div(g, x));
}

/** max(x, 0) */
export function relu(x: Tensor): Tensor {
  return unary(
    "relu",
    x,
    "max($0, 0.0)",
    (g) => mapOperands("relu_grad", [g, x], "select(0.0, $0, $1 > 0.0)"),
  );
}

/** x for x > 0, slope * x otherwise. */
export function leakyRelu(x: Tensor, slope = 0.2): Tensor {
  const y = mapOperands("leaky_relu", [x, slope], "select($0 * $1, $0, $0 > 0.0)");
  record(
    [x],
    y,
    (g) => [mapOperands("leaky_relu_grad", [g, x, slope], "select($0 * $2, $0, $1 > 0.0)")],
  );
  return y;
}

/** Hyperbolic tangent. */
export function tanh(x: Tensor): Tensor {
  const activation = { kind: "tanh" } as const;
  return unary(
    "tanh",
    x,
    activationFormula(activation, "$0"),
    (g, y) => mapOperands("tanh_grad", [g, y], activationGradientFormula(activation, "$0", "$1")),
  );
}

/** Logistic sigmoid 1 / (1 + e^-x). */
export function sigmoid(x: Tensor): Tensor {
  return unary(
    "sigmoid",
    x,
    sigmoidFormula("$0"),
    (g, y) => mapOperands("sigmoid_grad", [g, y], "$0 * $1 * (1.0 - $1)"),
  );
}

/** log(1 + e^x), computed without overflow. */
export function softplus(x: Tensor): Tensor {
  return unary(
    "softplus",
    x,
    softplusFormula("$0"),
    (g) => mapOperands("softplus_grad", [g, x], `$0 * ${sigmoidFormula("$1")}`),
  );
}

/** cond > 0 ? a : b, element-wise (no gradient to `cond`). */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const out = mapOperands("where", [cond, a, b], "select($2, $1, $0 > 0.0)");
  const inputs = [a, b].filter((o): o is Tensor => o instanceof Tensor);
  record(inputs, out, (g) => {
    const grads: Tensor[] = [];
    if (a instanceof Tensor) {
      grads.push(mapOperands("where_grad_a", [g, cond], "select(0.0, $0, $1 > 0.0)"));
    }
    if (b instanceof Tensor) {
      grads.push(mapOperands("where_grad_b", [g, cond], "select($0, 0.0, $1 > 0.0)"));
    }
    return grads;
  });
  return out;
}
