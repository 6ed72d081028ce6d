/**
 * Seeded random numbers generated on the device.
 *
 * A {@link RandomStream} is counter-based (Philox4x32-10, Salmon et al. 2011):
 * the value at position `p` of a seed's stream is a pure function of the seed
 * and `p`, so nothing lives on the device between draws and every thread computes
 * its values independently; every backend computes the same stream (to the
 * rounding of f32 arithmetic, and of log, cos and sin for normal values). A draw of `n` values takes the next `n` positions
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

import type { RandomSpec } from "./backend.ts";
import { backend } from "./engine.ts";
import { EngineError } from "./errors.ts";
import { checkShape, empty, type Shape, sizeOf, type Tensor } from "./tensor.ts";

/** Everything that determines a stream's future draws (JSON-serialisable). */
export interface RandomStreamState {
  /** Integer in [0, 2^53). */
  seed: number;
  /** Stream positions consumed so far: integer in [0, 2^53). */
  offset: number;
}

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
    return this.#draw(shape, { kind: "uniform", low, scale: high - low, limit: f32Below(high) });
  }

  /** Normally distributed values with the given mean and standard deviation, as a new tensor. */
  normal(shape: Shape, mean = 0, std = 1): Tensor {
    if (!Number.isFinite(mean) || !Number.isFinite(std) || std < 0) {
      throw new EngineError(
        `normal() needs a finite mean and a finite std >= 0, got mean ${mean}, std ${std}.`,
      );
    }
    return this.#draw(shape, { kind: "normal", mean, deviation: std });
  }

  #draw(shape: Shape, distribution: RandomSpec["distribution"]): Tensor {
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
    backend().random({
      output: out.buffer,
      seed: this.seed,
      offset: this.#offset,
      count,
      distribution,
    });
    this.#offset += count;
    return out;
  }
}
