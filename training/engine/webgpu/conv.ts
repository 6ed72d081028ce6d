/**
 * The convolution GEMMs of the WebGPU backend, as implicit GEMMs (no im2col
 * buffer): loaders read input patches and kernel taps in place.
 *
 * - forward: output pixels from input pixels;
 * - data gradient: input pixels from output pixels, split by stride phase so
 *   that only the kernel taps that reach a pixel are visited (a 4x4 stride-2
 *   transposed convolution does 4 MACs per input channel and pixel, not 16);
 * - weight gradient: kernel taps from input and output pixels.
 *
 * @module
 */

import type { ConvGeometry, ConvSpec, DeviceBuffer } from "../backend.ts";
import type { WebGpu } from "./context.ts";
import { runGemm } from "./gemm.ts";
import { gpuBuffer, wgslFormula } from "./map.ts";

/**
 * WGSL binding `value`, what the store function writes: the GEMM's `v`, plus
 * the bias of `channel` when there is one, through the activation formula
 * (of `x0`) when there is one.
 */
function storedValue(bias: DeviceBuffer | undefined, channel: string, activation?: string): string {
  const biased = bias ? `v + BIAS[${channel}]` : "v";
  return activation
    ? `let x0 = ${biased}; let value = ${wgslFormula(activation)};`
    : `let value = ${biased};`;
}

function biasBuffer(bias: DeviceBuffer | undefined) {
  return bias ? [{ name: "BIAS", buffer: gpuBuffer(bias), access: "read" as const }] : [];
}

/**
 * WGSL body reading input X at kernel tap `tapIndex` (over Cin x KH x KW)
 * of output pixel `pixelIndex` (over B x OH x OW); 0 in the padding.
 */
function inputPatch(g: ConvGeometry, tapIndex: string, pixelIndex: string): string {
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

/** y[B, Cout, OH, OW] = conv(x, w) (+ bias), activated. */
function convForward(
  gpu: WebGpu,
  g: ConvGeometry,
  x: GPUBuffer,
  w: GPUBuffer,
  y: GPUBuffer,
  bias?: DeviceBuffer,
  activation?: string,
): void {
  const taps = g.KH * g.KW, pixels = g.OH * g.OW;
  runGemm(gpu, {
    name: "conv_forward",
    batch: 1,
    M: g.Cout,
    N: g.B * pixels,
    K: g.Cin * taps,
    loadA: `return Wt[m * ${g.Cin * taps}u + k];`,
    loadB: inputPatch(g, "k", "n"),
    storeC: `
      let bb = n / ${pixels}u; ${storedValue(bias, "m", activation)}
      Y[(bb * ${g.Cout}u + m) * ${pixels}u + n % ${pixels}u] = value;`,
    buffers: [
      { name: "Wt", buffer: w, access: "read" },
      { name: "X", buffer: x, access: "read" },
      { name: "Y", buffer: y, access: "read_write" },
      ...biasBuffer(bias),
    ],
    contiguous: { a: "k", b: "n" },
  });
}

/**
 * One stride phase of a data gradient as WGSL expressions: the input pixels
 * (py + s * qy, px + s * qx) and the kernel taps that reach them, ky = ky0 +
 * s * jy from output rows oy = qy + dy0 - jy (likewise in x). `py` and `px`
 * are constants, or functions of the GEMM's batch index `b` when all phases
 * run in one dispatch; the rest follows from them.
 */
interface PhaseCode {
  py: string;
  px: string;
  ky0: string;
  kx0: string;
  dy0: string;
  dx0: string;
}

function phaseCode(py: string, px: string, s: number, pad: number): PhaseCode {
  return {
    py,
    px,
    ky0: `((${py} + ${pad}u) % ${s}u)`,
    kx0: `((${px} + ${pad}u) % ${s}u)`,
    dy0: `i32((${py} + ${pad}u) / ${s}u)`,
    dx0: `i32((${px} + ${pad}u) / ${s}u)`,
  };
}

/** A stride phase's numbers: its first pixel, and its taps and pixels per side. */
interface Phase {
  py: number;
  px: number;
  tapsY: number;
  tapsX: number;
  QH: number;
  QW: number;
}

/**
 * dx[B, Cin, H, W] = data gradient of the convolution for dy[B, Cout, OH, OW]
 * (+ bias, and activated, when this is a transposed convolution's forward pass), one GEMM
 * per stride phase. When every phase has the same taps and pixel count (a
 * kernel and input divisible by the stride, as a 4x4 stride-2 layer's), the
 * phases are the batch of a single GEMM: one dispatch instead of s * s.
 */
function convData(
  gpu: WebGpu,
  g: ConvGeometry,
  dy: GPUBuffer,
  w: GPUBuffer,
  dx: GPUBuffer,
  bias?: DeviceBuffer,
  activation?: string,
): void {
  const s = g.stride;
  const phases: Phase[] = [];
  for (let py = 0; py < s; py++) {
    for (let px = 0; px < s; px++) {
      const ky0 = (py + g.pad) % s, kx0 = (px + g.pad) % s;
      const tapsY = ky0 < g.KH ? Math.ceil((g.KH - ky0) / s) : 0;
      const tapsX = kx0 < g.KW ? Math.ceil((g.KW - kx0) / s) : 0;
      const QH = Math.ceil((g.H - py) / s), QW = Math.ceil((g.W - px) / s);
      if (QH > 0 && QW > 0) phases.push({ py, px, tapsY, tapsX, QH, QW });
    }
  }
  // Some pixels are reached by no tap: they are 0 (the op rejects a bias here, and its
  // activations keep 0 at 0).
  if (phases.some((p) => p.tapsY === 0 || p.tapsX === 0)) gpu.runtime.clear(dx);
  const run = (code: PhaseCode, batch: number, shape: Phase) => {
    const { tapsY, tapsX, QH, QW } = shape;
    const taps = tapsY * tapsX, pixels = QH * QW;
    runGemm(gpu, {
      name: "conv_data",
      batch,
      M: g.Cin,
      N: g.B * pixels,
      K: g.Cout * taps,
      loadA: `
        let co = k / ${taps}u; let t = k % ${taps}u;
        let ky = ${code.ky0} + ${s}u * (t / ${tapsX}u); let kx = ${code.kx0} + ${s}u * (t % ${tapsX}u);
        return Wt[((co * ${g.Cin}u + m) * ${g.KH}u + ky) * ${g.KW}u + kx];`,
      loadB: `
        let co = k / ${taps}u; let t = k % ${taps}u;
        let bb = n / ${pixels}u; let q = n % ${pixels}u;
        let oy = i32(q / ${QW}u) + ${code.dy0} - i32(t / ${tapsX}u);
        let ox = i32(q % ${QW}u) + ${code.dx0} - i32(t % ${tapsX}u);
        let inside = oy >= 0 && oy < ${g.OH} && ox >= 0 && ox < ${g.OW};
        let at = ((bb * ${g.Cout}u + co) * ${g.OH}u + u32(clamp(oy, 0, ${g.OH - 1}))) * ${g.OW}u
          + u32(clamp(ox, 0, ${g.OW - 1}));
        return select(0.0, DY[at], inside);`,
      storeC: `
        let bb = n / ${pixels}u; let q = n % ${pixels}u;
        let iy = ${code.py} + ${s}u * (q / ${QW}u); let ix = ${code.px} + ${s}u * (q % ${QW}u);
        ${storedValue(bias, "m", activation)}
        DX[((bb * ${g.Cin}u + m) * ${g.H}u + iy) * ${g.W}u + ix] = value;`,
      buffers: [
        { name: "Wt", buffer: w, access: "read" },
        { name: "DY", buffer: dy, access: "read" },
        { name: "DX", buffer: dx, access: "read_write" },
        ...biasBuffer(bias),
      ],
      contiguous: { a: "k", b: "n" },
    });
  };
  const [first] = phases;
  const uniform = phases.length === s * s &&
    phases.every((p) =>
      p.tapsY === first.tapsY && p.tapsX === first.tapsX && p.QH === first.QH && p.QW === first.QW
    );
  if (uniform && first.tapsY > 0 && first.tapsX > 0) {
    run(phaseCode(`(b / ${s}u)`, `(b % ${s}u)`, s, g.pad), phases.length, first);
    return;
  }
  for (const phase of phases) {
    if (phase.tapsY === 0 || phase.tapsX === 0) continue;
    run(phaseCode(`${phase.py}u`, `${phase.px}u`, s, g.pad), 1, phase);
  }
}

/** dw[Cout, Cin, KH, KW] = weight gradient for input x and output gradient dy. */
function convWeight(
  gpu: WebGpu,
  g: ConvGeometry,
  dy: GPUBuffer,
  x: GPUBuffer,
  dw: GPUBuffer,
): void {
  const taps = g.KH * g.KW, pixels = g.OH * g.OW;
  runGemm(gpu, {
    name: "conv_weight",
    batch: 1,
    M: g.Cout,
    N: g.Cin * taps,
    K: g.B * pixels,
    loadA: `return DY[((k / ${pixels}u) * ${g.Cout}u + m) * ${pixels}u + k % ${pixels}u];`,
    loadB: inputPatch(g, "n", "k"),
    storeC: `DW[m * ${g.Cin * taps}u + n] = v;`,
    buffers: [
      { name: "DY", buffer: dy, access: "read" },
      { name: "X", buffer: x, access: "read" },
      { name: "DW", buffer: dw, access: "read_write" },
    ],
    contiguous: { a: "k", b: "k" },
  });
}

/** Records one convolution GEMM (see {@link ConvSpec}). */
export function runConv(gpu: WebGpu, spec: ConvSpec): void {
  const g = spec.geometry;
  if (spec.kind === "forward") {
    const { x, w, y, bias, activation } = spec;
    convForward(gpu, g, gpuBuffer(x), gpuBuffer(w), gpuBuffer(y), bias, activation);
  } else if (spec.kind === "data") {
    const { dy, w, dx, bias, activation } = spec;
    convData(gpu, g, gpuBuffer(dy), gpuBuffer(w), gpuBuffer(dx), bias, activation);
  } else {
    convWeight(gpu, g, gpuBuffer(spec.dy), gpuBuffer(spec.x), gpuBuffer(spec.dw));
  }
}
