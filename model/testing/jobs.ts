/**
 * Picture jobs for tests.
 *
 * @module
 */

import type { PictureJob } from "../jobs.ts";

/** A swap of seed 2's group 0 into seed 1 at 64 px, with `over`'s fields instead. */
export function swapJob(over: Partial<Extract<PictureJob, { kind: "swap" }>> = {}): PictureJob {
  return {
    kind: "swap",
    target: 1,
    source: 2,
    groups: [0],
    mode: "region",
    size: 64,
    extras: [],
    strip: false,
    ...over,
  };
}
