import { deepEqual, equal, rejects } from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "./config.ts";
import { createRun, lockRun, RunFolder, RunFolderError } from "./run_folder.ts";

Deno.test("createRun: runs created together get folders of their own", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-runs-" });
  try {
    const runs = await Promise.all([1, 2, 3].map(() => createRun(root, "faces", DEFAULT_CONFIG)));
    deepEqual(runs.map((r) => r.dir).sort(), [
      join(root, "00000-faces"),
      join(root, "00001-faces"),
      join(root, "00002-faces"),
    ]);
    for (const run of runs) {
      equal(await Deno.readTextFile(join(run.dir, "training.lock")), String(Deno.pid));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lockRun: a lock being written is held; one left long ago without a pid is taken over", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-runs-" });
  try {
    const run = new RunFolder(root), lock = join(root, "training.lock");
    await Deno.writeTextFile(lock, "");
    await rejects(
      lockRun(run),
      (e) => e instanceof RunFolderError && /is being trained by another process/.test(e.message),
    );
    await Deno.utime(lock, 0, 0);
    await lockRun(run);
    equal(await Deno.readTextFile(lock), String(Deno.pid));
    deepEqual([...Deno.readDirSync(root)].map((e) => e.name), ["training.lock"], "nothing aside");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
