/** ServedModel's content id, which every immutable answer's ETag is made of. */

import { equal, notEqual } from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_MODEL, readBundle } from "./bundle.ts";
import { BUNDLE_FILES } from "./manifest.ts";
import { ServedModel } from "./model.ts";

const OPTIONS = { threads: 1, maxBatch: 4, maxQueuedRows: 16 };

async function contentIdOf(folder: string | URL): Promise<string> {
  const model = await ServedModel.load(folder, OPTIONS);
  try {
    return model.contentId;
  } finally {
    await model.release();
  }
}

Deno.test("the content id is the same for the same bundle and changes with its manifest alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "igan-model-" });
  try {
    const { manifest } = await readBundle(DEFAULT_MODEL);
    const names = [BUNDLE_FILES.manifest, ...Object.values(manifest.files).map((f) => f!.path)];
    for (const name of names) await Deno.copyFile(new URL(name, DEFAULT_MODEL), join(dir, name));
    const original = await contentIdOf(DEFAULT_MODEL);
    equal(await contentIdOf(dir), original, "a copy of the same files");
    // Another label: `?concepts=<label>` now names other groups, with the same ONNX files.
    const edited = {
      ...manifest,
      groups: manifest.groups.map((g, k) => ({ ...g, label: k === 0 ? "renamed" : g.label })),
    };
    await Deno.writeTextFile(join(dir, BUNDLE_FILES.manifest), JSON.stringify(edited));
    notEqual(await contentIdOf(dir), original);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
