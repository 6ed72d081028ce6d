/**
 * 2D convolution and transposed convolution over NCHW tensors, with their
 * gradients.
 *
 * Everything is expressed with one convolution geometry (the input and
 * output of an ordinary convolution) and the three GEMMs over it that
 * backends run (see `ConvSpec`): forward, data gradient, weight gradient.
 * A transposed convolution is the data gradient of the convolution whose
 * output is its input, and its gradients are the other two GEMMs.
 *
 * @module
 */

import type { ConvGeometry } from "../backend.ts";
import { backend } from "../engine.ts";
import { ShapeError } from "../errors.ts";
import { record } from "../tape.ts";
import { empty, type Tensor } from "../tensor.ts";
import { mapOperands } from "./broadcast.ts";
import {
  type Activation,
  activationFormula,
  activationGradientFormula,
  checkActivation,
} from "./formulas.ts";
import { sum } from "./reduce.ts";

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  /**
   * Applied to the output (bias included) in the convolution's own kernel:
   * the same values and gradients as the activation's op after it, with a
   * pass less forward.
   */
  activation?: Activation;
}

/** Options of {@link convTranspose2d}. */
export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/columns added to one side of the output (as in PyTorch). */
  outputPadding?: number;
}

function checkPositiveInt(value: number, what: string, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new ShapeError(`${what} must be an integer >= ${min}, got ${value}.`);
  }
}

function describeShapes(x: Tensor, w: Tensor): string {
  return `input [${x.shape.join(", ")}], weight [${w.shape.join(", ")}]`;
}

/** Records one of the convolution's GEMMs on the backend. */
function convForward(
  g: ConvGeometry,
  x: Tensor,
  w: Tensor,
  y: Tensor,
  bias?: Tensor,
  activation?: Activation,
): void {
  backend().conv({
    kind: "forward",
    geometry: g,
    x: x.buffer,
    w: w.buffer,
    y: y.buffer,
    bias: bias?.buffer,
    activation: activation && activationFormula(activation, "x0"),
  });
}

function convData(
  g: ConvGeometry,
  dy: Tensor,
  w: Tensor,
  dx: Tensor,
  bias?: Tensor,
  activation?: Activation,
): void {
  backend().conv({
    kind: "data",
    geometry: g,
    dy: dy.buffer,
    w: w.buffer,
    dx: dx.buffer,
    bias: bias?.buffer,
    activation: activation && activationFormula(activation, "x0"),
  });
}

function convWeight(g: ConvGeometry, dy: Tensor, x: Tensor, dw: Tensor): void {
  backend().conv({ kind: "weight", geometry: g, dy: dy.buffer, x: x.buffer, dw: dw.buffer });
}

/**
 * Records the gradients of a convolution-like op: `dataGrad` and
 * `weightGrad` fill dx and dw from the output's gradient (taken back
 * through the activation first, when there is one); a bias gets that
 * gradient summed over batch and pixels.
 */
function recordConv(
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  y: Tensor,
  activation: Activation | undefined,
  dataGrad: (grad: Tensor, dx: Tensor) => void,
  weightGrad: (grad: Tensor, dw: Tensor) => void,
): void {
  record(bias ? [x, w, bias] : [x, w], y, (outputGrad, [needX, needW, needBias]) => {
    const grad = activation
      ? mapOperands(
        `${activation.kind}_grad`,
        [outputGrad, y],
        activationGradientFormula(activation, "$0", "$1"),
      )
      : outputGrad;
    const dx = needX ? empty(x.shape) : null;
    if (dx) dataGrad(grad, dx);
    const dw = needW ? empty(w.shape) : null;
    if (dw) weightGrad(grad, dw);
    const grads = [dx, dw, needBias ? sum(grad, [0, 2, 3]) : null];
    if (grad !== outputGrad) grad.dispose();
    return grads;
  });
}

function checkBias(bias: Tensor | undefined, channels: number, x: Tensor, w: Tensor): void {
  if (bias && (bias.rank !== 1 || bias.shape[0] !== channels)) {
    throw new ShapeError(
      `Bias [${bias.shape.join(", ")}] must have shape [${channels}] for ${describeShapes(x, w)}.`,
    );
  }
}

/**
 * 2D convolution (cross-correlation, as in PyTorch): x [B, Cin, H, W],
 * w [Cout, Cin, KH, KW], optional bias [Cout] -> [B, Cout, OH, OW].
 */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor, options: Conv2dOptions = {}): Tensor {
  const stride = options.stride ?? 1, pad = options.padding ?? 0;
  checkPositiveInt(stride, "conv2d stride", 1);
  checkPositiveInt(pad, "conv2d padding", 0);
  if (x.rank !== 4 || w.rank !== 4 || x.shape[1] !== w.shape[1]) {
    throw new ShapeError(
      `conv2d needs input [B, Cin, H, W] and weight [Cout, Cin, KH, KW] with the same Cin; got ${
        describeShapes(x, w)
      }.`,
    );
  }
  const [B, Cin, H, W] = x.shape, [Cout, , KH, KW] = w.shape;
  checkBias(bias, Cout, x, w);
  const OH = Math.floor((H + 2 * pad - KH) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - KW) / stride) + 1;
  if (OH < 1 || OW < 1) {
    throw new ShapeError(
      `conv2d: the kernel does not fit the padded input (${describeShapes(x, w)}).`,
    );
  }
  const g: ConvGeometry = { B, Cin, H, W, Cout, KH, KW, stride, pad, OH, OW };
  const { activation } = options;
  checkActivation("conv2d", activation);
  const y = empty([B, Cout, OH, OW]);
  convForward(g, x, w, y, bias, activation);
  recordConv(
    x,
    w,
    bias,
    y,
    activation,
    (grad, dx) => convData(g, grad, w, dx),
    (grad, dw) => convWeight(g, grad, x, dw),
  );
  return y;
}

/**
 * 2D transposed convolution (as in PyTorch's ConvTranspose2d): x [B, Cin, H, W],
 * w [Cin, Cout, KH, KW], optional bias [Cout] -> [B, Cout, OH, OW] with
 * OH = (H - 1) * stride - 2 * padding + KH + outputPadding.
 */
export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  bias?: Tensor,
  options: ConvTranspose2dOptions = {},
): Tensor {
  const stride = options.stride ?? 1, pad = options.padding ?? 0;
  const extra = options.outputPadding ?? 0;
  checkPositiveInt(stride, "convTranspose2d stride", 1);
  checkPositiveInt(pad, "convTranspose2d padding", 0);
  checkPositiveInt(extra, "convTranspose2d outputPadding", 0);
  if (extra >= stride) {
    throw new ShapeError(`outputPadding (${extra}) must be smaller than stride (${stride}).`);
  }
  if (x.rank !== 4 || w.rank !== 4 || x.shape[1] !== w.shape[0]) {
    throw new ShapeError(
      `convTranspose2d needs input [B, Cin, H, W] and weight [Cin, Cout, KH, KW] with the same ` +
        `Cin; got ${describeShapes(x, w)}.`,
    );
  }
  const [B, Cin, H, W] = x.shape, [, Cout, KH, KW] = w.shape;
  checkBias(bias, Cout, x, w);
  if (bias && (KH < stride || KW < stride)) {
    throw new ShapeError(
      `A transposed convolution with a bias whose kernel (${KH}x${KW}) is smaller than its ` +
        `stride (${stride}) is not supported.`,
    );
  }
  const OH = (H - 1) * stride - 2 * pad + KH + extra;
  const OW = (W - 1) * stride - 2 * pad + KW + extra;
  if (OH < 1 || OW < 1) {
    throw new ShapeError(`convTranspose2d: padding leaves no output (${describeShapes(x, w)}).`);
  }
  // The convolution whose data gradient this is maps [B, Cout, OH, OW] to x.
  const g: ConvGeometry = {
    B,
    Cin: Cout,
    H: OH,
    W: OW,
    Cout: Cin,
    KH,
    KW,
    stride,
    pad,
    OH: H,
    OW: W,
  };
  const { activation } = options;
  checkActivation("convTranspose2d", activation);
  const y = empty([B, Cout, OH, OW]);
  convData(g, x, w, y, bias, activation);
  recordConv(
    x,
    w,
    bias,
    y,
    activation,
    (grad, dx) => convForward(g, grad, w, dx),
    (grad, dw) => convWeight(g, x, grad, dw),
  );
  return y;
}
