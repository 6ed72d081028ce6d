/**
 * The CPU backend's random draws: the same Philox4x32-10 stream as the
 * WebGPU backend's kernel (see `random.ts`): the same 32-bit words, the same
 * f32 arithmetic for uniform values and the same Box-Muller transform for
 * normal ones, so the values agree to the rounding of f32 (and of log, cos
 * and sin).
 *
 * @module
 */

import type { RandomSpec } from "../backend.ts";
import { host } from "./host.ts";

const M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;
const TWO_POW_32 = 2 ** 32;
const f = Math.fround;

/** High 32 bits of the 64-bit product of two u32 values. */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff, aHi = a >>> 16, bLo = b & 0xffff, bHi = b >>> 16;
  const t = aHi * bLo + ((aLo * bLo) >>> 16);
  const u = aLo * bHi + (t & 0xffff);
  return (aHi * bHi + Math.floor(t / 65536) + Math.floor(u / 65536)) >>> 0;
}

/** Philox4x32-10 of a block counter (lo, hi, 0, 0) under a key, written to `out`. */
export function philoxBlock(
  lo: number,
  hi: number,
  keyLo: number,
  keyHi: number,
  out: Uint32Array,
) {
  let c0 = lo >>> 0, c1 = hi >>> 0, c2 = 0, c3 = 0;
  let k0 = keyLo >>> 0, k1 = keyHi >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0, n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** Two normal values from two words (as the WGSL kernel's boxMuller). */
function boxMuller(a: number, b: number, out: number[], at: number): void {
  const u = f(f(f(a) + 0.5) * 2.3283064365386963e-10);
  const r = Math.sqrt(Math.max(-2 * Math.log(u), 0));
  const theta = Math.PI * ((b >>> 8) * (1 / 8388608) - 1);
  out[at] = r * Math.cos(theta);
  out[at + 1] = r * Math.sin(theta);
}

/** Fills `spec.output` with the draw. */
export function drawRandom(spec: RandomSpec): void {
  const out = host(spec.output);
  const d = spec.distribution;
  const keyLo = spec.seed % TWO_POW_32, keyHi = Math.floor(spec.seed / TWO_POW_32);
  const first = Math.floor(spec.offset / 4), skip = spec.offset % 4;
  const blocks = Math.ceil((skip + spec.count) / 4);
  const words = new Uint32Array(4);
  const values = [0, 0, 0, 0];
  const low = f(d.kind === "uniform" ? d.low : d.mean);
  const scale = f(d.kind === "uniform" ? d.scale : d.deviation);
  for (let t = 0; t < blocks; t++) {
    const block = first + t;
    philoxBlock(block % TWO_POW_32, Math.floor(block / TWO_POW_32), keyLo, keyHi, words);
    if (d.kind === "uniform") {
      for (let w = 0; w < 4; w++) {
        // The top 24 bits give every f32 multiple of 2^-24 in [0, 1) exactly.
        const u = (words[w] >>> 8) * (1 / 16777216);
        values[w] = Math.min(f(low + f(scale * u)), d.limit);
      }
    } else {
      boxMuller(words[0], words[1], values, 0);
      boxMuller(words[2], words[3], values, 2);
      for (let w = 0; w < 4; w++) values[w] = low + scale * f(values[w]);
    }
    for (let w = 0; w < 4; w++) {
      const k = 4 * t + w - skip;
      if (k >= 0 && k < spec.count) out[k] = values[w];
    }
  }
}
