/**
 * A stand-in render worker for the pool's tests: it loads nothing, answers a
 * `generate` job with one byte per source, and dies of an uncaught error on
 * a job whose first source is -1, as a worker that runs out of memory would.
 * While its folder holds a file `init-failures` with a count above 0, it
 * fails to load instead, counting it down, as a replacement worker would
 * that met a full memory or a bundle gone.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { WorkerReply, WorkerRequest } from "../worker_pool.ts";

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;

scope.addEventListener("message", (event: MessageEvent<WorkerRequest>) => {
  const message = event.data;
  if (message.type === "init") {
    const failures = `${message.folder}/init-failures`;
    let left = 0;
    try {
      left = Number(Deno.readTextFileSync(failures));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (left > 0) {
      Deno.writeTextFileSync(failures, String(left - 1));
      scope.postMessage(
        { type: "init-failed", message: "stand-in load failure" } satisfies WorkerReply,
      );
      return;
    }
    scope.postMessage({ type: "ready", priority: "unchanged" } satisfies WorkerReply);
  } else if (message.type === "job" && message.job.kind === "generate") {
    const sources = message.job.sources as number[];
    if (sources[0] === -1) {
      setTimeout(() => {
        throw new Error("stand-in crash");
      });
      return;
    }
    const result = { "0": new Uint8Array(sources) };
    scope.postMessage(
      { type: "done", id: message.id, result, renderMs: 0, inferenceMs: 0 } satisfies WorkerReply,
    );
  }
});
