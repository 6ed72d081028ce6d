/**
 * A training set held on the host as 8-bit pixels, and the errors of loading one.
 *
 * @module
 */

import { UserError } from "../../core/user_error.ts";

/** Square RGB images of one resolution, optionally with a part label per pixel. */
export interface ImageSet {
  /** Short name for run folders and logs (e.g. "celeba", "synthetic"). */
  name: string;
  /** Side S of every image in pixels. */
  resolution: number;
  /** Number of images N. */
  count: number;
  /** `[N, S, S, 3]` interleaved RGB bytes. */
  pixels: Uint8Array;
  /** `[N, S, S]` index into `parts` per pixel, when the set knows its parts. */
  masks?: Uint8Array;
  /** Names of the part labels in `masks`. */
  parts?: readonly string[];
}

/** A data set that cannot be used: missing or empty folder, bad options. */
export class DataError extends UserError {
  override name = "DataError";
}

/** The training resolutions the networks support. */
export const RESOLUTIONS = [32, 64] as const;

/** A supported training resolution. */
export type Resolution = typeof RESOLUTIONS[number];

/** Throws a {@link DataError} unless `value` is a supported resolution. */
export function checkResolution(value: number): asserts value is Resolution {
  if (!(RESOLUTIONS as readonly number[]).includes(value)) {
    throw new DataError(`resolution must be one of ${RESOLUTIONS.join(", ")}, got ${value}.`);
  }
}
