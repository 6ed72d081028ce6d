/**
 * 2D convolution and transposed convolution over NCHW tensors, with their
 * gradients, as implicit GEMMs (no im2col buffer).
 *
 * Everything is expressed with one convolution geometry (the input and
 * output of an ordinary convolution) and three GEMMs over it:
 * - forward: output pixels from input pixels;
 * - data gradient: input pixels from output pixels, split by stride phase so
 *   that only the kernel taps that reach a pixel are visited (a 4x4 stride-2
 *   transposed convolution does 4 MACs per input channel and pixel, not 16);
 * - weight gradient: kernel taps from input and output pixels.
 * A transposed convolution is the data gradient of the convolution whose
 * output is its input, and its gradients are the other two GEMMs.
 *
 * @module
 */

import { record } from "../tape.ts";
import { getEngine } from "../engine.ts";
import { ShapeError } from "../errors.ts";
import { runGemm } from "../kernels/gemm.ts";
import { empty, type Tensor } from "../tensor.ts";
import { sum } from "./reduce.ts";

/** Sizes of an ordinary convolution: input [B, Cin, H, W] -> output [B, Cout, OH, OW]. */
interface Geometry {
  B: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
  OH: number;
  OW: number;
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  stride?: number;
  padding?: number;
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

/** Optional bias added in the store function. */
function biasTerm(bias: Tensor | undefined, channel: string): string {
  return bias ? ` + BIAS[${channel}]` : "";
}

function biasBuffer(bias: Tensor | undefined) {
  return bias ? [{ name: "BIAS", buffer: bias.buffer, access: "read" as const }] : [];
}

/**
 * WGSL body reading input X at kernel tap `tapIndex` (over Cin x KH x KW)
 * of output pixel `pixelIndex` (over B x OH x OW); 0 in the padding.
 */
function inputPatch(g: Geometry, tapIndex: string, pixelIndex: string): string {
  const taps = g.KH * g.KW, pixels = g.OH * g.OW;
  return `
    let ci = ${tapIndex} / ${taps}u; let tap = ${tapIndex} % ${taps}u;
    let bb = ${pixelIndex} / ${pixels}u; let p = ${pixelIndex} % ${pixels}u;
    let iy = i32((p / ${g.OW}u) * ${g.stride}u + tap / ${g.KW}u) - ${g.pad};
    let ix = i32((p % ${g.OW}u) * ${g.stride}u + tap % ${g.KW}u) - ${g.pad};
    let inside = iy >= 0 && iy < ${g.H} && ix >= 0 && ix < ${g.W};
    let at = ((bb * ${g.Cin}u + ci) * ${g.H}u + u32(clamp(iy, 0, ${g.H - 1}))) * ${g.W}u
      + u32(clamp(ix, 0, ${g.W - 1}));
    return select(0.0, X[at], inside);`;
}

/** y[B, Cout, OH, OW] = conv(x, w) (+ bias). */
function convForward(g: Geometry, x: Tensor, w: Tensor, y: Tensor, bias?: Tensor): void {
  const taps = g.KH * g.KW, pixels = g.OH * g.OW;
  runGemm(getEngine(), {
    name: "conv_forward",
    batch: 1,
    M: g.Cout,
    N: g.B * pixels,
    K: g.Cin * taps,
    loadA: `return Wt[m * ${g.Cin * taps}u + k];`,
    loadB: inputPatch(g, "k", "n"),
    storeC: `
      let bb = n / ${pixels}u;
      Y[(bb * ${g.Cout}u + m) * ${pixels}u + n % ${pixels}u] = v${biasTerm(bias, "m")};`,
    buffers: [
      { name: "Wt", buffer: w.buffer, access: "read" },
      { name: "X", buffer: x.buffer, access: "read" },
      { name: "Y", buffer: y.buffer, access: "read_write" },
      ...biasBuffer(bias),
    ],
    contiguous: { a: "k", b: "n" },
  });
}

/**
 * dx[B, Cin, H, W] = data gradient of the convolution for dy[B, Cout, OH, OW]
 * (+ bias, when this is a transposed convolution's forward pass).
 */
function convData(g: Geometry, dy: Tensor, w: Tensor, dx: Tensor, bias?: Tensor): void {
  const s = g.stride;
  const phases = [];
  for (let py = 0; py < s; py++) {
    for (let px = 0; px < s; px++) {
      // Input pixels iy = py + s*qy are reached by taps ky = ky0 + s*jy from
      // output rows oy = qy + dy0 - jy.
      const ky0 = (py + g.pad) % s, kx0 = (px + g.pad) % s;
      const tapsY = ky0 < g.KH ? Math.ceil((g.KH - ky0) / s) : 0;
      const tapsX = kx0 < g.KW ? Math.ceil((g.KW - kx0) / s) : 0;
      const QH = Math.ceil((g.H - py) / s), QW = Math.ceil((g.W - px) / s);
      if (QH > 0 && QW > 0) phases.push({ py, px, ky0, kx0, tapsY, tapsX, QH, QW });
    }
  }
  if (phases.some((p) => p.tapsY === 0 || p.tapsX === 0)) {
    // Some pixels are reached by no tap: they are 0.
    if (bias) {
      throw new ShapeError(
        `A transposed convolution with a bias whose kernel (${g.KH}x${g.KW}) is smaller than ` +
          `its stride (${s}) is not supported.`,
      );
    }
    getEngine().runtime.clear(dx.buffer);
  }
  for (const { py, px, ky0, kx0, tapsY, tapsX, QH, QW } of phases) {
    if (tapsY === 0 || tapsX === 0) continue;
    const dy0 = (py + g.pad - ky0) / s, dx0 = (px + g.pad - kx0) / s;
    const taps = tapsY * tapsX, pixels = QH * QW;
    runGemm(getEngine(), {
      name: "conv_data",
      batch: 1,
      M: g.Cin,
      N: g.B * pixels,
      K: g.Cout * taps,
      loadA: `
        let co = k / ${taps}u; let t = k % ${taps}u;
        let ky = ${ky0}u + ${s}u * (t / ${tapsX}u); let kx = ${kx0}u + ${s}u * (t % ${tapsX}u);
        return Wt[((co * ${g.Cin}u + m) * ${g.KH}u + ky) * ${g.KW}u + kx];`,
      loadB: `
        let co = k / ${taps}u; let t = k % ${taps}u;
        let bb = n / ${pixels}u; let q = n % ${pixels}u;
        let oy = i32(q / ${QW}u) + ${dy0} - i32(t / ${tapsX}u);
        let ox = i32(q % ${QW}u) + ${dx0} - i32(t % ${tapsX}u);
        let inside = oy >= 0 && oy < ${g.OH} && ox >= 0 && ox < ${g.OW};
        let at = ((bb * ${g.Cout}u + co) * ${g.OH}u + u32(clamp(oy, 0, ${g.OH - 1}))) * ${g.OW}u
          + u32(clamp(ox, 0, ${g.OW - 1}));
        return select(0.0, DY[at], inside);`,
      storeC: `
        let bb = n / ${pixels}u; let q = n % ${pixels}u;
        let iy = ${py}u + ${s}u * (q / ${QW}u); let ix = ${px}u + ${s}u * (q % ${QW}u);
        DX[((bb * ${g.Cin}u + m) * ${g.H}u + iy) * ${g.W}u + ix] = v${biasTerm(bias, "m")};`,
      buffers: [
        { name: "Wt", buffer: w.buffer, access: "read" },
        { name: "DY", buffer: dy.buffer, access: "read" },
        { name: "DX", buffer: dx.buffer, access: "read_write" },
        ...biasBuffer(bias),
      ],
      contiguous: { a: "k", b: "n" },
    });
  }
}

/** dw[Cout, Cin, KH, KW] = weight gradient for input x and output gradient dy. */
function convWeight(g: Geometry, dy: Tensor, x: Tensor, dw: Tensor): void {
  const taps = g.KH * g.KW, pixels = g.OH * g.OW;
  runGemm(getEngine(), {
    name: "conv_weight",
    batch: 1,
    M: g.Cout,
    N: g.Cin * taps,
    K: g.B * pixels,
    loadA: `return DY[((k / ${pixels}u) * ${g.Cout}u + m) * ${pixels}u + k % ${pixels}u];`,
    loadB: inputPatch(g, "n", "k"),
    storeC: `DW[m * ${g.Cin * taps}u + n] = v;`,
    buffers: [
      { name: "DY", buffer: dy.buffer, access: "read" },
      { name: "X", buffer: x.buffer, access: "read" },
      { name: "DW", buffer: dw.buffer, access: "read_write" },
    ],
    contiguous: { a: "k", b: "k" },
  });
}

/**
 * Records the gradients of a convolution-like op: `dataGrad` and
 * `weightGrad` fill dx and dw from the output's gradient; a bias gets the
 * output gradient summed over batch and pixels.
 */
function recordConv(
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  y: Tensor,
  dataGrad: (grad: Tensor, dx: Tensor) => void,
  weightGrad: (grad: Tensor, dw: Tensor) => void,
): void {
  record(bias ? [x, w, bias] : [x, w], y, (grad, [needX, needW, needBias]) => {
    const dx = needX ? empty(x.shape) : null;
    if (dx) dataGrad(grad, dx);
    const dw = needW ? empty(w.shape) : null;
    if (dw) weightGrad(grad, dw);
    return [dx, dw, needBias ? sum(grad, [0, 2, 3]) : null];
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
  const g: Geometry = { B, Cin, H, W, Cout, KH, KW, stride, pad, OH, OW };
  const y = empty([B, Cout, OH, OW]);
  convForward(g, x, w, y, bias);
  recordConv(
    x,
    w,
    bias,
    y,
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
  const OH = (H - 1) * stride - 2 * pad + KH + extra;
  const OW = (W - 1) * stride - 2 * pad + KW + extra;
  if (OH < 1 || OW < 1) {
    throw new ShapeError(`convTranspose2d: padding leaves no output (${describeShapes(x, w)}).`);
  }
  // The convolution whose data gradient this is maps [B, Cout, OH, OW] to x.
  const g: Geometry = { B, Cin: Cout, H: OH, W: OW, Cout: Cin, KH, KW, stride, pad, OH: H, OW: W };
  const y = empty([B, Cout, OH, OW]);
  convData(g, x, w, y, bias);
  recordConv(
    x,
    w,
    bias,
    y,
    (grad, dx) => convForward(g, grad, w, dx),
    (grad, dw) => convWeight(g, x, grad, dw),
  );
  return y;
}
