/**
 * The images of a run's data: the synthetic faces, or a folder (decoded with
 * a progress line, or read from the cache), reporting skipped files.
 *
 * @module
 */

import { Progress } from "../../core/progress.ts";
import type { DataConfig } from "../config.ts";
import { loadImageFolder, skippedWarning } from "./folder.ts";
import type { ImageSet } from "./image_set.ts";
import { syntheticFaces } from "./synthetic.ts";

/** Loads `data` at `resolution` x `resolution`; `cacheDir` as {@link loadImageFolder} takes it. */
export async function loadTrainingData(
  data: DataConfig,
  resolution: number,
  cacheDir: string | undefined,
): Promise<ImageSet> {
  if (data.kind === "synthetic") {
    return syntheticFaces({ count: data.count, resolution, seed: data.seed });
  }
  let progress: Progress | undefined;
  const loaded = await loadImageFolder(data.path, {
    resolution,
    cacheDir,
    onProgress: (done, total) => {
      progress ??= new Progress("decoding", total, { unit: "file" });
      progress.update(done);
    },
  });
  progress?.finish();
  const total = loaded.set.count + loaded.skipped.length;
  const warning = skippedWarning(loaded.skipped, total);
  if (warning) console.error(warning);
  console.error(
    `data: ${loaded.set.count} image${loaded.set.count === 1 ? "" : "s"} from ${data.path} at ` +
      `${resolution}x${resolution}` +
      (loaded.fromCache ? ` (cached in ${loaded.cacheFile})` : ""),
  );
  return loaded.set;
}
