/**
 * A render worker of the pool (`worker_pool.ts`): loads the bundle into its
 * own onnxruntime sessions, then draws the jobs it is posted, one at a time,
 * and posts back their PNGs (transferred, not copied).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { renderTimedJob } from "./jobs.ts";
import { ServedModel } from "./model.ts";
import type { WorkerReply, WorkerRequest } from "./worker_pool.ts";

// `globalThis`, not `self`: under `deno test` a worker's `self` binding was measured missing
// (while its global scope's postMessage and events work).
const scope = globalThis as unknown as DedicatedWorkerGlobalScope;
let model: ServedModel | null = null;
const running = new Map<number, AbortController>();

function reply(message: WorkerReply, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

scope.addEventListener("message", async (event: MessageEvent<WorkerRequest>) => {
  const message = event.data;
  if (message.type === "init") {
    try {
      const folder = message.folder.startsWith("file:") ? new URL(message.folder) : message.folder;
      model = await ServedModel.load(folder, {
        threads: message.threads,
        maxBatch: message.maxBatch,
        maxQueuedRows: message.maxQueuedRows,
      });
      reply({ type: "ready" });
    } catch (error) {
      reply({ type: "init-failed", message: (error as Error).message });
    }
  } else if (message.type === "cancel") {
    running.get(message.id)?.abort(new DOMException("the request was given up", "AbortError"));
  } else if (message.type === "job") {
    const controller = new AbortController();
    running.set(message.id, controller);
    try {
      const rendered = await renderTimedJob(model!, message.job, controller.signal);
      const buffers = new Set(
        Object.values(rendered.result).map((bytes) => bytes.buffer as ArrayBuffer),
      );
      reply({ type: "done", id: message.id, ...rendered }, [...buffers]);
    } catch (error) {
      const { name, message: text } = error as Error;
      reply({ type: "failed", id: message.id, name, message: text });
    } finally {
      running.delete(message.id);
    }
  }
});
