/**
 * Seeded random numbers generated on the GPU.
 *
 * A {@link RandomStream} is counter-based (Philox4x32-10, Salmon et al. 2011):
 * the value at position `p` of a seed's stream is a pure function of the seed
 * and `p`, so nothing lives on the GPU between draws and every thread computes
 * its values independently. A draw of `n` values takes the next `n` positions
 * of the stream, whatever its shape or kind, and advances the stream's
 * offset by `n`; drawing `[3]` then `[5]` gives the same values as drawing
 * `[8]` once. The stream's whole state is its seed and offset, which
 * checkpoints save as JSON to resume the exact sequence.
 *
 * Each Philox block of four 32-bit words serves four consecutive positions.
 * Uniform values use one word each; normal values come in Box-Muller pairs
 * (positions 4b, 4b+1 from words 0 and 1 of block b; 4b+2, 4b+3 from words 2
 * and 3).
 *
 * @module
 */

import { getEngine } from "./engine.ts";
import { EngineError } from "./errors.ts";
import {
  GRID_STRIDE_WORKGROUP,
  gridStrideGroups,
  gridStrideMain,
  type KernelSpec,
  type Param,
} from "./kernel.ts";
import { checkShape, empty, type Shape, sizeOf, type Tensor } from "./tensor.ts";

/** Everything that determines a stream's future draws (JSON-serialisable). */
export interface RandomStreamState {
  /** Integer in [0, 2^53). */
  seed: number;
  /** Stream positions consumed so far: integer in [0, 2^53). */
  offset: number;
}

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

function checkStreamInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new EngineError(
      `RandomStream ${what} must be an integer in [0, 2^53), got ${value}.`,
    );
  }
}

/** The largest f32 strictly below `x`. */
function f32Below(x: number): number {
  const f = new Float32Array([x]);
  if (f[0] < x) return f[0];
  const bits = new Uint32Array(f.buffer);
  if (f[0] > 0) bits[0]--;
  else if (f[0] < 0) bits[0]++;
  else f[0] = -1.1754943508222875e-38; // below 0: -(smallest normal), as GPUs flush subnormals
  return f[0];
}

/** A seeded stream of random numbers; see the module documentation. */
export class RandomStream {
  /** The seed this stream derives from. */
  readonly seed: number;
  #offset = 0;

  /** A stream at the start of `seed`'s stream (integer in [0, 2^53)). */
  constructor(seed: number) {
    checkStreamInteger(seed, "seed");
    this.seed = seed;
  }

  /** A stream that continues where the one that reported `state` stood. */
  static fromState(state: RandomStreamState): RandomStream {
    const gen = new RandomStream(state.seed);
    checkStreamInteger(state.offset, "offset");
    gen.#offset = state.offset;
    return gen;
  }

  /** Seed and offset, to save and later pass to {@link RandomStream.fromState}. */
  state(): RandomStreamState {
    return { seed: this.seed, offset: this.#offset };
  }

  /** Values uniform in [low, high) (after rounding to f32), as a new tensor. */
  uniform(shape: Shape, low = 0, high = 1): Tensor {
    if (!(low < high) || !Number.isFinite(Math.fround(high - low))) {
      throw new EngineError(
        `uniform() needs low < high with a width finite in f32, got low ${low}, high ${high}.`,
      );
    }
    return this.#draw(UNIFORM_SPEC, shape, [low, high - low, f32Below(high)]);
  }

  /** Normally distributed values with the given mean and standard deviation, as a new tensor. */
  normal(shape: Shape, mean = 0, std = 1): Tensor {
    if (!Number.isFinite(mean) || !Number.isFinite(std) || std < 0) {
      throw new EngineError(
        `normal() needs a finite mean and a finite std >= 0, got mean ${mean}, std ${std}.`,
      );
    }
    return this.#draw(NORMAL_SPEC, shape, [mean, std]);
  }

  #draw(spec: KernelSpec, shape: Shape, values: number[]): Tensor {
    // The buffer limit (at most 4 GiB per binding) keeps `count` far below 2^32,
    // so the kernel's u32 positions cannot overflow.
    checkShape(shape);
    const count = sizeOf(shape);
    if (!Number.isSafeInteger(this.#offset + count)) {
      throw new EngineError(
        `RandomStream with seed ${this.seed} has exhausted its 2^53 positions; use another seed.`,
      );
    }
    const out = empty(shape);
    const engine = getEngine();
    const block = Math.floor(this.#offset / 4);
    const skip = this.#offset % 4;
    const blocks = Math.ceil((skip + count) / 4);
    // CPU-like adapters pay per invocation, so each thread takes several blocks.
    const perThread = engine.variant === "cpu" ? 4 : 1;
    engine.runtime.dispatch(
      engine.kernels.get(spec),
      [out.buffer],
      gridStrideGroups(blocks, perThread),
      [
        this.seed % TWO_POW_32,
        Math.floor(this.seed / TWO_POW_32),
        block % TWO_POW_32,
        Math.floor(block / TWO_POW_32),
        skip,
        count,
        ...values,
      ],
    );
    this.#offset += count;
    return out;
  }
}
