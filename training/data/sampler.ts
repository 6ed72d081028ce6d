/**
 * Batches of an {@link ImageSet} for training: a fresh shuffle each epoch and
 * random horizontal flips, both derived from the seed, the epoch and the
 * position, so the sampler's whole state is three integers that a checkpoint
 * stores and a resumed run continues from exactly.
 *
 * @module
 */

import { hostRandom, permutation } from "../../core/host_random.ts";
import { DataError, type ImageSet } from "./image_set.ts";

/** Everything that determines the sampler's next batches (JSON-serialisable). */
export interface SamplerState {
  seed: number;
  epoch: number;
  /** Position in this epoch's order of the next image. */
  cursor: number;
  /** The images it draws from (absent from states stored before it was kept). */
  count?: number;
}

/**
 * A saved state of another number of images than the sampler's: every
 * epoch's order would differ, so the batches would not be the run's (and a
 * position past the end would read no image at all).
 */
export class SamplerCountError extends DataError {
  override name = "SamplerCountError";
  /** The images the sampler has. */
  readonly count: number;
  /** The images the state was drawn from, or what is known of them. */
  readonly trained: number | string;

  constructor(count: number, trained: number | string) {
    super(`the data has ${count} images, but the state was saved over ${trained}.`);
    this.count = count;
    this.trained = trained;
  }
}

/**
 * The images a state saved before the count was kept was drawing from, from
 * the images drawn in all (`drawn`): after `epoch` whole epochs and `cursor`
 * more, (drawn - cursor) / epoch. Undefined in its first epoch, or when the
 * figures do not fit one count.
 */
export function impliedCount(state: SamplerState, drawn: number): number | undefined {
  if (state.epoch === 0) return undefined;
  const count = (drawn - state.cursor) / state.epoch;
  return Number.isInteger(count) && count >= state.cursor ? count : undefined;
}

/** Which images a batch holds, and whether each is mirrored. */
export interface BatchSelection {
  indices: number[];
  flips: boolean[];
}

/** Draws batches without replacement within an epoch. */
export class BatchSampler {
  readonly #count: number;
  readonly #flip: boolean;
  #state: SamplerState;
  #order: Uint32Array;

  /**
   * A sampler over `count` images, from `state` (default: epoch 0 of `seed`
   * 0); throws {@link SamplerCountError} for a state of another count. For a
   * state saved before the count was kept, `drawn` (the images drawn in all)
   * gives it ({@link impliedCount}).
   */
  constructor(count: number, options: { flip: boolean; state?: SamplerState; drawn?: number }) {
    if (!Number.isInteger(count) || count < 1) {
      throw new DataError(`a sampler needs at least one image, got ${count}.`);
    }
    const state = options.state ?? { seed: 0, epoch: 0, cursor: 0 };
    const known = state.count ??
      (options.drawn === undefined ? undefined : impliedCount(state, options.drawn)) ??
      (state.cursor > count ? `more than ${state.cursor}` : count);
    if (known !== count) throw new SamplerCountError(count, known);
    this.#count = count;
    this.#flip = options.flip;
    this.#state = { ...state, count };
    this.#order = this.#epochOrder();
  }

  /** The state to store; a sampler built from it draws the same next batches. */
  state(): SamplerState {
    return { ...this.#state };
  }

  /** The next `size` images, crossing into the next epoch (reshuffled) as needed. */
  next(size: number): BatchSelection {
    const indices: number[] = [], flips: boolean[] = [];
    while (indices.length < size) {
      if (this.#state.cursor === this.#count) {
        this.#state = { ...this.#state, epoch: this.#state.epoch + 1, cursor: 0 };
        this.#order = this.#epochOrder();
      }
      const { seed, epoch, cursor } = this.#state;
      indices.push(this.#order[cursor]);
      flips.push(this.#flip && hostRandom(seed, epoch, cursor, 1)() < 0.5);
      this.#state.cursor++;
    }
    return { indices, flips };
  }

  #epochOrder(): Uint32Array {
    return permutation(this.#count, hostRandom(this.#state.seed, this.#state.epoch));
  }
}

/**
 * The selected images as planar floats `[B, 3, S, S]` in [-1, 1], mirrored
 * where the selection says so.
 */
export function batchPixels(set: ImageSet, selection: BatchSelection): Float32Array {
  const s = set.resolution, plane = s * s;
  const out = new Float32Array(selection.indices.length * 3 * plane);
  selection.indices.forEach((index, b) => {
    const image = set.pixels.subarray(index * plane * 3, (index + 1) * plane * 3);
    const flip = selection.flips[b];
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const src = (y * s + (flip ? s - 1 - x : x)) * 3;
        for (let c = 0; c < 3; c++) {
          out[(b * 3 + c) * plane + y * s + x] = image[src + c] / 127.5 - 1;
        }
      }
    }
  });
  return out;
}
