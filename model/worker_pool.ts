/**
 * A pool of render workers (`render_worker.ts`), each with its own copy of
 * the model: inference, drawing and PNG encoding run there, so the thread
 * that accepts requests stays free to answer them (health checks included)
 * under any load. Each worker is one lane of a {@link Renderer}.
 *
 * @module
 */

import { JobGivenUpError, type PictureJob, type RenderedJob } from "./jobs.ts";
import type { ServedModel } from "./model.ts";
import { CostModel, type LaneRunner, Renderer } from "./renderer.ts";
import { QueueFullError } from "./scheduler.ts";
import { NoEncoderError, NoGradientsError } from "./sessions.ts";
import { ImageDecodeError } from "../core/image.ts";
import { untilAborted } from "../core/until_aborted.ts";

/** Messages to a worker. */
export type WorkerRequest =
  | {
    type: "init";
    folder: string;
    /** The served model's {@link ServedModel.contentId}: a worker that loads another refuses. */
    contentId: string;
    threads: number;
    maxBatch: number;
    maxQueuedRows: number;
    niceness: number;
  }
  | { type: "job"; id: number; job: PictureJob }
  | { type: "cancel"; id: number };

/** Whether a worker lowered its CPU priority, could not here, or was not permitted to. */
export type WorkerPriority = "lowered" | "unchanged" | "not permitted";

/** Messages from a worker. */
export type WorkerReply =
  | { type: "ready"; priority: WorkerPriority }
  | { type: "init-failed"; message: string }
  | { type: "done"; id: number } & RenderedJob
  | {
    type: "failed";
    id: number;
    name: string;
    message: string;
    /** The field of an {@link ImageDecodeError}. */
    field?: string;
    /** How long a {@link JobGivenUpError}'s job ran. */
    renderMs?: number;
  };

/** Options of {@link openWorkerPool}. */
export interface WorkerPoolOptions {
  workers: number;
  /** The bundle folder each worker loads (the one `model` was loaded from). */
  folder: string | URL;
  /** onnxruntime wasm threads per worker. */
  threads: number;
  maxBatch: number;
  maxQueuedRows: number;
  timeoutMs: number;
  /** The worker module (tests pass stand-ins); default `render_worker.ts`. */
  script?: URL;
  /** How far below this thread's the workers' CPU priority is; default {@link WORKER_NICENESS}. */
  niceness?: number;
  /**
   * Milliseconds before a stopped worker's replacement, when it fails to load, is tried again;
   * doubled at each failure up to {@link RESTART_MAX_MS}. Default 1000.
   */
  restartDelayMs?: number;
}

/**
 * How far below the serving thread's the render workers' CPU priority is
 * (Unix nice levels), so that it answers at once however busy they are.
 */
export const WORKER_NICENESS = 10;

const RENDER_WORKER = new URL("./render_worker.ts", import.meta.url);

/** The longest wait between tries to start a stopped worker again. */
const RESTART_MAX_MS = 30_000;

/**
 * Errors of a job that the HTTP layer answers as problems (not internal
 * errors): a worker's failure of one of these names is raised here as it
 * (and an {@link ImageDecodeError} with the field it names).
 */
const ANSWERED_ERRORS = {
  QueueFullError,
  NoEncoderError,
  NoGradientsError,
} as const;

/** A worker failed to start or stopped: the message says why. */
export class WorkerPoolError extends Error {
  override name = "WorkerPoolError";
}

/**
 * The worker drawing a job stopped (a crash) and is being started again:
 * the job is lost, and the same request may succeed when sent again.
 */
export class WorkerStoppedError extends WorkerPoolError {
  override name = "WorkerStoppedError";
}

interface Pending {
  resolve: (rendered: RenderedJob) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal;
}

/**
 * One render worker and the jobs it has been posted. A worker that stops
 * after it started (out of memory, a crash) fails its jobs, is logged in one
 * line and is started again, and again with growing waits while the new one
 * fails to load; jobs posted meanwhile wait for it (their lane counts them,
 * so new work goes to the other lanes).
 */
class RenderWorker {
  readonly #options: WorkerPoolOptions;
  readonly #index: number;
  readonly #contentId: string;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #worker!: Worker;
  /** Resolves when the current worker has loaded the model, with what became of its priority. */
  ready: Promise<WorkerPriority>;
  /** Whether a worker is loaded and running now (not while one is started again). */
  up = false;
  /** Aborts when the pool closes: ends the waits between restarts. */
  readonly #closing = new AbortController();

  constructor(options: WorkerPoolOptions, index: number, contentId: string) {
    this.#options = options;
    this.#index = index;
    this.#contentId = contentId;
    this.ready = this.#start();
  }

  /** Starts a worker; settles when it has loaded the model or failed to (then it is stopped). */
  #start(): Promise<WorkerPriority> {
    const worker = new Worker(this.#options.script ?? RENDER_WORKER, { type: "module" });
    this.#worker = worker;
    const index = this.#index;
    let started = false;
    // A worker stopped by the pool's closing says nothing more: its start ends then.
    const closing = this.#closing.signal;
    let onClose = () => {};
    const ready = new Promise<WorkerPriority>((resolve, reject) => {
      onClose = () => reject(closing.reason);
      closing.addEventListener("abort", onClose, { once: true });
      worker.onmessage = (event: MessageEvent<WorkerReply>) => {
        const message = event.data;
        if (message.type === "ready") {
          started = true;
          this.up = true;
          resolve(message.priority);
        } else if (message.type === "init-failed") {
          worker.terminate();
          reject(
            new WorkerPoolError(
              `render worker ${index} could not load the model: ${message.message}`,
            ),
          );
        } else this.#settle(message);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        worker.terminate();
        const message = `render worker ${index} stopped: ${event.message}`;
        if (!started) {
          const error = new WorkerPoolError(message);
          this.#failAll(error);
          reject(error);
          return;
        }
        this.up = false;
        this.#failAll(new WorkerStoppedError(message));
        if (this.#closing.signal.aborted) return;
        console.error(`${message}; starting it again`);
        this.ready = this.#restart();
        // Nothing may await a restart that ends with the pool: that rejection is no one's error.
        this.ready.catch(() => {});
      };
    });
    const folder = this.#options.folder;
    worker.postMessage(
      {
        type: "init",
        folder: folder instanceof URL ? folder.href : folder,
        contentId: this.#contentId,
        threads: this.#options.threads,
        maxBatch: this.#options.maxBatch,
        maxQueuedRows: this.#options.maxQueuedRows,
        niceness: this.#options.niceness ?? WORKER_NICENESS,
      } satisfies WorkerRequest,
    );
    // Settled either way, the start no longer listens (one listener a restart would pile up).
    const stopListening = () => closing.removeEventListener("abort", onClose);
    ready.then(stopListening, stopListening);
    return ready;
  }

  /** Starts the worker again until one loads, waiting longer after each failure, or the pool closes. */
  async #restart(): Promise<WorkerPriority> {
    let waitMs = this.#options.restartDelayMs ?? 1000;
    while (true) {
      try {
        return await this.#start();
      } catch (error) {
        if (this.#closing.signal.aborted) throw error;
        const why = (error as Error).message.replace(/\.$/, "");
        console.error(`${why}; trying again in ${waitMs / 1000} s`);
        await abortableDelay(waitMs, this.#closing.signal);
        waitMs = Math.min(RESTART_MAX_MS, waitMs * 2);
      }
    }
  }
  #settle(message: Extract<WorkerReply, { id: number }>): void {
    const job = this.#pending.get(message.id);
    if (!job) return;
    this.#pending.delete(message.id);
    if (message.type === "done") {
      const { result, renderMs, inferenceMs } = message;
      job.resolve({ result, renderMs, inferenceMs });
    } else if (message.name === JobGivenUpError.name) {
      job.reject(new JobGivenUpError(message.renderMs ?? 0));
    } else if (message.name === ImageDecodeError.name) {
      job.reject(new ImageDecodeError(message.message, message.field));
    } else if (message.name in ANSWERED_ERRORS) {
      job.reject(
        new ANSWERED_ERRORS[message.name as keyof typeof ANSWERED_ERRORS](message.message),
      );
    } else if (job.signal.aborted) job.reject(job.signal.reason);
    else {
      job.reject(
        new WorkerPoolError(`render worker ${this.#index}: ${message.name}: ${message.message}`),
      );
    }
  }

  #failAll(error: unknown): void {
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  /**
   * Posts `job` (once the worker is ready); see {@link LaneRunner}. When
   * `signal` aborts, the worker is told to stop the job, and this settles
   * when it has: its lane counts the job until then.
   */
  readonly run: LaneRunner = async (job, signal) => {
    await untilAborted(this.ready, signal);
    const worker = this.#worker;
    return await new Promise<RenderedJob>((resolve, reject) => {
      const id = this.#nextId++;
      const onAbort = () => worker.postMessage({ type: "cancel", id } satisfies WorkerRequest);
      signal.addEventListener("abort", onAbort, { once: true });
      const settle = <T>(fn: (value: T) => void) => (value: T) => {
        signal.removeEventListener("abort", onAbort);
        fn(value);
      };
      this.#pending.set(id, { resolve: settle(resolve), reject: settle(reject), signal });
      worker.postMessage({ type: "job", id, job } satisfies WorkerRequest);
    });
  };

  /** Stops the worker for good. */
  close(): void {
    this.#closing.abort(new WorkerPoolError(`render worker ${this.#index} was closed`));
    this.#worker.terminate();
    this.#failAll(new WorkerPoolError(`render worker ${this.#index} was closed`));
  }
}

/**
 * Starts `options.workers` render workers for `model`'s bundle and waits
 * until each has loaded it; throws {@link WorkerPoolError} when one cannot.
 *
 * Start the pool before this thread loads onnxruntime, if it ever does (the
 * server's thread does not: it uses `ServedModel.describe`): once it has,
 * workers started later were measured to come up without `self` (the cause
 * was not pinned down), and onnxruntime's import in them never finished.
 */
export async function openWorkerPool(
  model: ServedModel,
  options: WorkerPoolOptions,
): Promise<Renderer> {
  const workers = Array.from(
    { length: options.workers },
    (_, k) => new RenderWorker(options, k, model.contentId),
  );
  let priorities: WorkerPriority[];
  try {
    priorities = await Promise.all(workers.map((w) => w.ready));
  } catch (error) {
    for (const w of workers) w.close();
    throw error;
  }
  if (priorities.includes("not permitted")) {
    console.error(
      "note: the render workers draw at the serving thread's priority, which may slow health " +
        "checks under load: lowering it reads /proc/thread-self, which Deno allows only with -A",
    );
  }
  const { manifest } = model;
  return new Renderer(
    workers.map((w) => w.run),
    new CostModel(manifest.resolution, manifest.target.channels),
    // Two jobs at a worker at once: it starts the next as it posts a result (it runs them in turn).
    {
      timeoutMs: options.timeoutMs,
      maxQueuedImages: options.maxQueuedRows,
      inFlightPerLane: 2,
      laneUp: (lane) => workers[lane].up,
    },
    () => {
      for (const w of workers) w.close();
      return Promise.resolve();
    },
  );
}

/** Waits `ms`, or less when `signal` aborts (then rejects with its reason). */
function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return untilAborted(
    new Promise<void>((resolve) => {
      const stop = () => clearTimeout(timer);
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", stop);
        resolve();
      }, ms);
      signal.addEventListener("abort", stop, { once: true });
    }),
    signal,
  );
}
