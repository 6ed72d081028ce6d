/**
 * What the evaluation tools' tests share: a copy of the embedded default
 * bundle without some of its optional parts.
 *
 * @module
 */

import { join } from "node:path";
import { ROOT } from "../server_process.ts";

/**
 * A new temporary folder with the default bundle, its manifest without the
 * `files` entries and manifest fields named in `without` (e.g. `encoder`).
 */
export async function defaultBundleWithout(without: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "igan-bundle-" });
  const source = join(ROOT, "model", "default");
  const manifest = JSON.parse(await Deno.readTextFile(join(source, "manifest.json")));
  for (const key of without) {
    delete manifest.files[key];
    delete manifest[key];
  }
  for (const file of Object.values(manifest.files) as { path: string }[]) {
    await Deno.copyFile(join(source, file.path), join(dir, file.path));
  }
  await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify(manifest));
  return dir;
}
