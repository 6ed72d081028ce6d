/**
 * Float64 host references of convolutions for tests.
 *
 * @module
 */

import type { HostTensor } from "./harness.ts";

/** Cross-correlation as in PyTorch's conv2d. */
export function conv2dRef(
  x: HostTensor,
  w: HostTensor,
  bias: HostTensor | undefined,
  stride: number,
  pad: number,
): HostTensor {
  const [B, Cin, H, W] = x.shape, [Cout, , KH, KW] = w.shape;
  const OH = Math.floor((H + 2 * pad - KH) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - KW) / stride) + 1;
  const out = new Float64Array(B * Cout * OH * OW);
  for (let b = 0; b < B; b++) {
    for (let co = 0; co < Cout; co++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          let s = bias ? bias.data[co] : 0;
          for (let ci = 0; ci < Cin; ci++) {
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * stride - pad + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * stride - pad + kx;
                if (ix < 0 || ix >= W) continue;
                s += x.data[((b * Cin + ci) * H + iy) * W + ix] *
                  w.data[((co * Cin + ci) * KH + ky) * KW + kx];
              }
            }
          }
          out[((b * Cout + co) * OH + oy) * OW + ox] = s;
        }
      }
    }
  }
  return { shape: [B, Cout, OH, OW], data: out };
}

/** Transposed convolution as in PyTorch's conv_transpose2d (weight [Cin, Cout, KH, KW]). */
export function convTranspose2dRef(
  x: HostTensor,
  w: HostTensor,
  bias: HostTensor | undefined,
  stride: number,
  pad: number,
  outputPadding = 0,
): HostTensor {
  const [B, Cin, H, W] = x.shape, [, Cout, KH, KW] = w.shape;
  const OH = (H - 1) * stride - 2 * pad + KH + outputPadding;
  const OW = (W - 1) * stride - 2 * pad + KW + outputPadding;
  const out = new Float64Array(B * Cout * OH * OW);
  for (let b = 0; b < B; b++) {
    for (let co = 0; co < Cout; co++) {
      const base = (b * Cout + co) * OH * OW;
      if (bias) out.fill(bias.data[co], base, base + OH * OW);
    }
    for (let ci = 0; ci < Cin; ci++) {
      for (let iy = 0; iy < H; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const v = x.data[((b * Cin + ci) * H + iy) * W + ix];
          for (let co = 0; co < Cout; co++) {
            for (let ky = 0; ky < KH; ky++) {
              const oy = iy * stride - pad + ky;
              if (oy < 0 || oy >= OH) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ox = ix * stride - pad + kx;
                if (ox < 0 || ox >= OW) continue;
                out[((b * Cout + co) * OH + oy) * OW + ox] += v *
                  w.data[((ci * Cout + co) * KH + ky) * KW + kx];
              }
            }
          }
        }
      }
    }
  }
  return { shape: [B, Cout, OH, OW], data: out };
}
