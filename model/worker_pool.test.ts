import { deepEqual, equal, match, rejects } from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_MODEL } from "./bundle.ts";
import { type PictureJob, renderJob } from "./jobs.ts";
import { ServedModel } from "./model.ts";
import {
  openWorkerPool,
  WORKER_NICENESS,
  WorkerPoolError,
  type WorkerPoolOptions,
  WorkerStoppedError,
} from "./worker_pool.ts";
import { OverloadError, type Renderer } from "./renderer.ts";
import { encodePng, ImageDecodeError } from "../core/image.ts";

// Tests that start workers come before any that loads onnxruntime in this thread.
const OPTIONS = { threads: 1, maxBatch: 16, maxQueuedRows: 64 };
const never = () => new AbortController().signal;

/** Resolves once `condition` holds, checked every 5 ms. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A pool of `workers` render workers of the default bundle (the options' others as given). */
async function defaultPool(
  workers: number,
  options: Partial<WorkerPoolOptions> = {},
): Promise<Renderer> {
  const described = await ServedModel.describe(DEFAULT_MODEL, OPTIONS);
  return await openWorkerPool(described, {
    workers,
    folder: DEFAULT_MODEL,
    ...OPTIONS,
    timeoutMs: 10_000,
    ...options,
  });
}

/** The PNG of seed `seed`'s image, as a user would upload it. */
async function photoOf(model: ServedModel, seed: number): Promise<Uint8Array> {
  return (await renderJob(model, { kind: "generate", sources: [seed], size: 64 }, never()))["0"];
}

Deno.test("a bundle the workers cannot load is a WorkerPoolError", async () => {
  const described = await ServedModel.describe(DEFAULT_MODEL, OPTIONS);
  await rejects(
    openWorkerPool(described, {
      workers: 1,
      folder: "/nonexistent/bundle",
      ...OPTIONS,
      timeoutMs: 1000,
    }),
    (e) => e instanceof WorkerPoolError && /could not load the model/.test(e.message),
  );
});

Deno.test("a worker that finds another model in the folder than the server's refuses it", async () => {
  const folder = await Deno.makeTempDir();
  try {
    for await (const entry of Deno.readDir(DEFAULT_MODEL)) {
      await Deno.copyFile(new URL(entry.name, DEFAULT_MODEL), join(folder, entry.name));
    }
    const manifest = JSON.parse(await Deno.readTextFile(join(folder, "manifest.json")));
    manifest.model.version = "edited";
    await Deno.writeTextFile(join(folder, "manifest.json"), JSON.stringify(manifest));
    const described = await ServedModel.describe(DEFAULT_MODEL, OPTIONS);
    await rejects(
      openWorkerPool(described, { workers: 1, folder, ...OPTIONS, timeoutMs: 1000 }),
      (e) =>
        e instanceof WorkerPoolError &&
        /holds another model than the one this server/.test(e.message),
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("a worker that dies fails its job, is logged in one line and is started again", async () => {
  const pool = await defaultPool(1, {
    script: new URL("./testing/crashing_worker.ts", import.meta.url),
  });
  const logged: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => void logged.push(args.join(" "));
  try {
    await rejects(
      pool.run({ kind: "generate", sources: [-1], size: 64 }, never()),
      (e) =>
        e instanceof WorkerStoppedError &&
        /render worker 0 stopped: .*stand-in crash/.test(e.message),
    );
    // The next job runs in the new worker, once it is up.
    await until(() => pool.load().lanesUp === 1);
    deepEqual(await pool.run({ kind: "generate", sources: [7, 8], size: 64 }, never()), {
      "0": new Uint8Array([7, 8]),
    });
    equal(logged.length, 1);
    match(logged[0], /render worker 0 stopped: .*stand-in crash.*; starting it again$/);
    equal(pool.load().jobs, 0);
  } finally {
    console.error = error;
    await pool.close();
  }
});

Deno.test("while a replacement fails to load its lane is down: jobs are refused at once, and it is tried again until one loads", async () => {
  const folder = await Deno.makeTempDir();
  const pool = await defaultPool(1, {
    script: new URL("./testing/crashing_worker.ts", import.meta.url),
    folder,
    restartDelayMs: 20,
  });
  const logged: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => void logged.push(args.join(" "));
  try {
    await Deno.writeTextFile(`${folder}/init-failures`, "2");
    await rejects(pool.run({ kind: "generate", sources: [-1], size: 64 }, never()));
    // No lane can draw: /readyz says overloaded, and a job is refused now, not after the limit.
    const load = pool.load();
    equal(load.lanesUp, 0);
    equal(load.overloaded, true);
    await rejects(
      pool.run({ kind: "generate", sources: [3], size: 64 }, never()),
      (e) => e instanceof OverloadError && /being started again/.test(e.message),
    );
    await until(() => pool.load().lanesUp === 1);
    deepEqual(await pool.run({ kind: "generate", sources: [3], size: 64 }, never()), {
      "0": new Uint8Array([3]),
    });
    equal(await Deno.readTextFile(`${folder}/init-failures`), "0");
    equal(logged.length, 3);
    match(
      logged[1],
      /render worker 0 could not load the model: stand-in load failure; trying again in 0.02 s$/,
    );
    match(logged[2], /trying again in 0.04 s$/);
    // Replacements that keep failing: closing the pool ends the tries, loading or between them
    // (a timer left running would fail the test's leak check).
    await Deno.writeTextFile(`${folder}/init-failures`, "1000");
    await rejects(pool.run({ kind: "generate", sources: [-1], size: 64 }, never()));
  } finally {
    console.error = error;
    await pool.close();
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("a job given up while it waits behind a running one leaves its worker's count at once", async () => {
  const pool = await defaultPool(1, { timeoutMs: 60_000 });
  // A photo of random pixels, fitted for 200 steps: seconds of work in the one worker.
  const side = 64, pixels = new Uint8Array(side * side * 3);
  crypto.getRandomValues(pixels);
  const photo = encodePng({ width: side, height: side, data: pixels });
  const [long, waiting] = [new AbortController(), new AbortController()];
  try {
    const running = pool.run({ kind: "encode", photo, size: 64, refine: 0, fit: 200 }, long.signal);
    const queued = pool.run({ kind: "generate", sources: [1], size: 64 }, waiting.signal);
    await new Promise((resolve) => setTimeout(resolve, 200));
    equal(pool.load().jobs, 2);
    waiting.abort(new DOMException("gone", "AbortError"));
    await rejects(queued, (e) => e instanceof DOMException && e.name === "AbortError");
    const start = performance.now();
    while (pool.load().jobs > 1 && performance.now() - start < 2_000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    equal(pool.load().jobs, 1, "the given-up job left the count while the other still runs");
    long.abort(new DOMException("too slow", "TimeoutError"));
    await rejects(running, (e) => e instanceof DOMException && e.name === "TimeoutError");
    while (pool.load().jobs > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    equal(pool.load().jobs, 0, "the running one left it once stopped");
  } finally {
    await pool.close();
  }
});

Deno.test("render workers draw the same PNGs as this thread, two at a time", async () => {
  // The workers start before this thread loads onnxruntime (see `openWorkerPool`).
  const pool = await defaultPool(2);
  const local = await ServedModel.load(DEFAULT_MODEL, OPTIONS);
  try {
    if (Deno.build.os === "linux") {
      // Each worker thread runs WORKER_NICENESS below this one (Unix nice, field 19 of stat).
      const nice = (task: string) =>
        Number(Deno.readTextFileSync(`/proc/self/task/${task}/stat`).split(") ")[1].split(" ")[16]);
      const threads = [...Deno.readDirSync("/proc/self/task")].map((t) => t.name);
      const workers = threads.filter((t) =>
        Deno.readTextFileSync(`/proc/self/task/${t}/comm`).startsWith("worker")
      );
      equal(workers.length, 2, "two render worker threads");
      const own = nice(String(Deno.pid));
      for (const t of workers) equal(nice(t), Math.min(19, own + WORKER_NICENESS));
    }
    const jobs: PictureJob[] = [
      { kind: "generate", sources: [3, 4], size: 64 },
      {
        kind: "swap",
        target: 1,
        source: 2,
        groups: [1],
        mode: "region",
        size: 96,
        extras: ["difference", "mask", "originals"],
        strip: true,
      },
      { kind: "concept-map", image: 5, style: "overlay", size: 64 },
      { kind: "kernel", image: 6, kernel: 3, style: "contour", size: 64 },
      // A photo (a generated face's PNG) is decoded and encoded in the worker, then refined.
      { kind: "encode", photo: await photoOf(local, 9), size: 64, refine: 2, fit: 2 },
      {
        kind: "refine",
        source: 4,
        settings: { steps: 2, stepSize: 0.1, priorSigma: 1, seed: 1 },
        size: 64,
      },
    ];
    const results = await Promise.all(jobs.map((job) => pool.run(job, never())));
    for (const [k, job] of jobs.entries()) {
      deepEqual(results[k], await renderJob(local, job, never()), job.kind);
    }
    // A photo that fails to decode in a worker is the same typed error as in this thread.
    const cut = (await photoOf(local, 9)).subarray(0, 100);
    await rejects(
      pool.run({ kind: "encode", photo: cut, size: 64, refine: 0, fit: 0 }, never()),
      ImageDecodeError,
    );
    // One of a swap's two photos: the error names the field it came in.
    const photo = await photoOf(local, 9);
    await rejects(
      pool.run({
        kind: "swap",
        target: { photo, field: "body.target" },
        source: { photo: cut, field: "body.source" },
        groups: [0],
        mode: "groups",
        size: 64,
        extras: [],
        strip: false,
      }, never()),
      (error: Error) => error instanceof ImageDecodeError && error.field === "body.source",
    );
    equal(pool.load().lanes, 2);
    equal(pool.load().jobs, 0);
  } finally {
    await pool.close();
    await local.release();
  }
});
