/**
 * A render worker of the pool (`worker_pool.ts`): loads the bundle into its
 * own onnxruntime sessions, then draws the jobs it is posted, one at a time,
 * and posts back their PNGs (transferred, not copied).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { getPriority, setPriority } from "node:os";
import { ImageDecodeError } from "../core/image.ts";
import { JobGivenUpError, type PictureJob, renderTimedJob } from "./jobs.ts";
import { ServedModel } from "./model.ts";
import type { WorkerPriority, WorkerReply, WorkerRequest } from "./worker_pool.ts";

// `globalThis`, not `self`: under `deno test` a worker's `self` binding was measured missing
// (while its global scope's postMessage and events work).
const scope = globalThis as unknown as DedicatedWorkerGlobalScope;
let model: ServedModel | null = null;
/** Jobs waiting or running here, by id, so that a cancel reaches them. */
const running = new Map<number, AbortController>();
/** Of those, the one running: they run in turn. */
let runningId: number | null = null;
/** The end of the last job posted here. */
let turn: Promise<void> = Promise.resolve();

function reply(message: WorkerReply, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

/**
 * Lowers this worker thread's CPU priority by `niceness` (Unix nice levels),
 * so that the thread that accepts requests and answers health checks gets a
 * core as soon as it has work, however busy the workers are (a 200-request
 * burst held a health check 222 ms without it). Linux names a thread through
 * /proc/thread-self; where there is none (another OS, an edge runtime), the
 * priority stays as it is, as it does where Deno does not let this process
 * read it (it asks all permissions, `-A`, for that link).
 */
function lowerPriority(niceness: number): WorkerPriority {
  let tid: number;
  try {
    tid = Number(Deno.readLinkSync("/proc/thread-self").split("/").pop());
  } catch (error) {
    return error instanceof Deno.errors.NotCapable ? "not permitted" : "unchanged";
  }
  setPriority(tid, Math.min(19, getPriority(tid) + niceness));
  return "lowered";
}

/** Runs one job (unless given up meanwhile, and so answered) and posts its result or failure. */
async function runJob(id: number, job: PictureJob, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  runningId = id;
  try {
    const rendered = await renderTimedJob(model!, job, signal);
    const buffers = new Set(Object.values(rendered.result).map((b) => b.buffer as ArrayBuffer));
    reply({ type: "done", id, ...rendered }, [...buffers]);
  } catch (error) {
    const { name, message } = error as Error;
    const field = error instanceof ImageDecodeError ? error.field : undefined;
    const renderMs = error instanceof JobGivenUpError ? error.renderMs : undefined;
    reply({ type: "failed", id, name, message, field, renderMs });
  } finally {
    running.delete(id);
    runningId = null;
  }
}

scope.addEventListener("message", async (event: MessageEvent<WorkerRequest>) => {
  const message = event.data;
  if (message.type === "init") {
    try {
      const priority = lowerPriority(message.niceness);
      const folder = message.folder.startsWith("file:") ? new URL(message.folder) : message.folder;
      const loaded = await ServedModel.load(folder, {
        threads: message.threads,
        maxBatch: message.maxBatch,
        maxQueuedRows: message.maxQueuedRows,
      });
      // A worker started again after a crash reads the folder anew: another model there would
      // answer under the served model's ETags and /v1/model.
      if (loaded.contentId !== message.contentId) {
        await loaded.release();
        throw new Error(
          `${message.folder} holds another model than the one this server started with (it ` +
            "changed on disk); restart the server to serve it",
        );
      }
      model = loaded;
      reply({ type: "ready", priority });
    } catch (error) {
      reply({ type: "init-failed", message: (error as Error).message });
    }
  } else if (message.type === "cancel") {
    const controller = running.get(message.id);
    if (!controller) return;
    controller.abort(new DOMException("the request was given up", "AbortError"));
    // One still waiting behind the running job is answered now, not when that job ends: its lane
    // stops counting it at once.
    if (runningId !== message.id) {
      running.delete(message.id);
      reply({ type: "failed", id: message.id, name: "AbortError", message: "given up unstarted" });
    }
  } else if (message.type === "job") {
    // Jobs run in turn: the pool hands over the next before this one ends, and a job's
    // inference time (Server-Timing, the cost model) must be its own.
    const controller = new AbortController();
    running.set(message.id, controller);
    turn = turn.then(() => runJob(message.id, message.job, controller.signal));
  }
});
