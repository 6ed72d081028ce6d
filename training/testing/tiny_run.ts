/**
 * The tiny model and data the training tests share, so that they compile
 * (and Mesa caches) one set of kernels.
 *
 * @module
 */

import { type NetworkConfig, type PartialConfig, resolveConfig } from "../config.ts";
import type { ImageSet } from "../data/image_set.ts";
import { syntheticFaces } from "../data/synthetic.ts";
import { Progress } from "../../core/progress.ts";
import { createRun } from "../run_folder.ts";
import { GanTrainer } from "../trainer.ts";
import { trainLoop } from "../train.ts";

/** The tiny networks: 32x32 images, width 4, 8 target filters, latent 8. */
export const TINY_NETWORK: NetworkConfig = {
  architecture: "upsample",
  resolution: 32,
  latent: 8,
  width: 4,
  targetChannels: 8,
};

/** {@link TINY_NETWORK}, batch 4, on 16 synthetic faces. */
export const TINY_RUN: PartialConfig = {
  network: TINY_NETWORK,
  data: { kind: "synthetic", count: 16, seed: 0 },
  batch: 4,
  // Off by default, on here: the tests (resume exactness above all) cover it.
  augment: ["color", "translation", "cutout"],
};

/** The 16 synthetic faces of {@link TINY_RUN}. */
export function tinyFaces(): ImageSet {
  return syntheticFaces({ count: 16, resolution: 32 });
}

/** A progress line towards `total` that prints nothing. */
export function silentProgress(total: number): Progress {
  return new Progress("step", total, { sink: { isTerminal: false, write: () => {} } });
}

/** Trains a run of `config` (on top of {@link TINY_RUN}) to its end in `root`; returns its folder. */
export async function trainTinyRun(
  root: string,
  name: string,
  config: PartialConfig,
): Promise<string> {
  const resolved = resolveConfig({ ...TINY_RUN, ...config });
  const run = await createRun(root, name, resolved);
  const trainer = new GanTrainer(resolved, tinyFaces());
  try {
    await trainLoop({ trainer, run, progress: silentProgress(resolved.steps) });
  } finally {
    trainer.dispose();
  }
  return run.dir;
}
