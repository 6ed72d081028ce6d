/**
 * The WebGPU backend's random draws: Philox4x32-10 in WGSL (see `random.ts`
 * for the stream's definition).
 *
 * @module
 */

import type { RandomSpec } from "../backend.ts";
import type { WebGpu } from "./context.ts";
import {
  GRID_STRIDE_WORKGROUP,
  gridStrideGroups,
  gridStrideMain,
  type KernelSpec,
  type Param,
} from "./kernel.ts";
import { gpuBuffer } from "./map.ts";

const TWO_POW_32 = 2 ** 32;

/** Philox4x32-10 and the loop that writes the draw's positions. */
const PHILOX_WGSL = `
const PHILOX_M0 = 0xD2511F53u;
const PHILOX_M1 = 0xCD9E8D57u;
const PHILOX_W0 = 0x9E3779B9u;
const PHILOX_W1 = 0xBB67AE85u;

// (high, low) 32-bit halves of the 64-bit product a * b; WGSL has no mulhi.
fn mulhilo(a: u32, b: u32) -> vec2u {
  let t = (a >> 16u) * (b & 0xffffu) + (((a & 0xffffu) * (b & 0xffffu)) >> 16u);
  let u = (a & 0xffffu) * (b >> 16u) + (t & 0xffffu);
  return vec2u((a >> 16u) * (b >> 16u) + (t >> 16u) + (u >> 16u), a * b);
}

fn philox(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    if (round > 0u) { k += vec2u(PHILOX_W0, PHILOX_W1); }
    let p0 = mulhilo(PHILOX_M0, c.x);
    let p1 = mulhilo(PHILOX_M1, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
  }
  return c;
}

// Writes the value of relative position k (block-aligned) if the draw covers it.
fn store(k: u32, value: f32) {
  if (k >= P.skip && k - P.skip < P.count) { Y[k - P.skip] = value; }
}

${
  gridStrideMain(
    "blocks",
    `
    let lo = P.block_lo + t;
    let hi = P.block_hi + select(0u, 1u, lo < t); // carry of the 64-bit block index
    let v = transform(philox(vec4u(lo, hi, 0u, 0u), vec2u(P.key_lo, P.key_hi)));
    store(4u * t, v.x);
    store(4u * t + 1u, v.y);
    store(4u * t + 2u, v.z);
    store(4u * t + 3u, v.w);`,
    `
  let blocks = (P.skip + P.count + 3u) / 4u;`,
    "t",
  )
}`;

const STREAM_PARAMS: Param[] = [
  { name: "key_lo", type: "u32" },
  { name: "key_hi", type: "u32" },
  { name: "block_lo", type: "u32" },
  { name: "block_hi", type: "u32" },
  { name: "skip", type: "u32" },
  { name: "count", type: "u32" },
];

/** Uniform in [low, low + scale), clamped below `limit` (the last f32 under `high`). */
const UNIFORM_SPEC: KernelSpec = {
  name: "random_uniform",
  bindings: [{ name: "Y", access: "read_write" }],
  params: [
    ...STREAM_PARAMS,
    { name: "low", type: "f32" },
    { name: "scale", type: "f32" },
    { name: "limit", type: "f32" },
  ],
  workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1],
  body: `
fn transform(w: vec4u) -> vec4f {
  // The top 24 bits give every f32 multiple of 2^-24 in [0, 1) exactly.
  let u = vec4f(w >> vec4u(8u)) * (1.0 / 16777216.0);
  return min(vec4f(P.low) + vec4f(P.scale) * u, vec4f(P.limit));
}
${PHILOX_WGSL}`,
};

/** Normal with mean `mean` and standard deviation `deviation`, by Box-Muller. */
const NORMAL_SPEC: KernelSpec = {
  name: "random_normal",
  bindings: [{ name: "Y", access: "read_write" }],
  params: [...STREAM_PARAMS, { name: "mean", type: "f32" }, { name: "deviation", type: "f32" }],
  workgroupSize: [GRID_STRIDE_WORKGROUP, 1, 1],
  body: `
const PI = 3.14159265358979;

fn boxMuller(a: u32, b: u32) -> vec2f {
  // Radius from (0, 1], never 0, so log() stays finite (|z| < 6.8).
  let u = (f32(a) + 0.5) * 2.3283064365386963e-10;
  let r = sqrt(max(-2.0 * log(u), 0.0));
  // Angle in [-pi, pi), where WGSL bounds the error of cos and sin.
  let theta = PI * (f32(b >> 8u) * (1.0 / 8388608.0) - 1.0);
  return r * vec2f(cos(theta), sin(theta));
}

fn transform(w: vec4u) -> vec4f {
  let z = vec4f(boxMuller(w.x, w.y), boxMuller(w.z, w.w));
  return vec4f(P.mean) + vec4f(P.deviation) * z;
}
${PHILOX_WGSL}`,
};

/** Records a draw. */
export function runRandom(gpu: WebGpu, spec: RandomSpec): void {
  // The buffer limit (at most 4 GiB per binding) keeps `count` far below 2^32,
  // so the kernel's u32 positions cannot overflow.
  const block = Math.floor(spec.offset / 4);
  const skip = spec.offset % 4;
  const blocks = Math.ceil((skip + spec.count) / 4);
  if (spec.count === 0) return;
  const d = spec.distribution;
  // CPU-like adapters pay per invocation, so each thread takes several blocks.
  const perThread = gpu.variant === "cpu" ? 4 : 1;
  gpu.runtime.dispatch(
    gpu.kernels.get(d.kind === "uniform" ? UNIFORM_SPEC : NORMAL_SPEC),
    [gpuBuffer(spec.output)],
    gridStrideGroups(blocks, perThread),
    [
      spec.seed % TWO_POW_32,
      Math.floor(spec.seed / TWO_POW_32),
      block % TWO_POW_32,
      Math.floor(block / TWO_POW_32),
      skip,
      spec.count,
      ...(d.kind === "uniform" ? [d.low, d.scale, d.limit] : [d.mean, d.deviation]),
    ],
  );
}
