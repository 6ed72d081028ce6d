/**
 * The bounded queue in front of the onnxruntime sessions. One run at a time
 * (wasm inference is one computation per process); while it runs, requests
 * queue, and the next run takes every waiting job of the first job's kind,
 * up to `maxBatch` rows, as one batch: concurrent requests are micro-batched
 * with no added delay. Runs of the wasm backend hold the JavaScript thread,
 * and their promises settle as microtasks, so a chain of runs (a photo's
 * fitting steps) would let no message or timer through until it ended: each
 * run starts after a task boundary ({@link nextTask}), where requests that
 * arrived meanwhile join the batch and a worker sees that its job was
 * cancelled. A full queue refuses new work at once, and a job whose request
 * was aborted (time limit, client gone) leaves the queue.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { concatArrays } from "../core/concat.ts";

/**
 * What a run computes: the head (latents -> maps), the tail (maps ->
 * images), the encoder (images -> latents), or a vector-Jacobian product of
 * the head or tail (each input row is the point, then the upstream vector),
 * or the energy model (maps -> rows of g_W and its gradient).
 */
export type RunKind = "head" | "tail" | "encoder" | "headVjp" | "tailVjp" | "energy";

/** Runs one batch of `rows` rows of `kind`; returns `rows` output rows, concatenated. */
export type BatchRunner = (
  kind: RunKind,
  input: Float32Array,
  rows: number,
) => Promise<Float32Array>;

/** The queue holds its maximum: try again shortly. */
export class QueueFullError extends Error {
  override name = "QueueFullError";
}

/** Options of {@link InferenceScheduler}. */
export interface SchedulerOptions {
  /** Most rows in one run. */
  maxBatch: number;
  /** Most rows waiting; beyond it {@link InferenceScheduler.submit} throws {@link QueueFullError}. */
  maxQueuedRows: number;
}

interface Job {
  kind: RunKind;
  input: Float32Array;
  rows: number;
  resolve: (output: Float32Array) => void;
  reject: (error: unknown) => void;
}

/** Counters of the queue's work: what ran and what waits (tests read them to see what ran). */
export interface SchedulerStats {
  queuedRows: number;
  running: boolean;
  runs: number;
  rowsRun: number;
  /** Milliseconds spent in runs (onnxruntime's time, without queueing). */
  runMs: number;
}

/** A queue of inference jobs, run one batch at a time. */
export class InferenceScheduler {
  readonly options: SchedulerOptions;
  readonly #run: BatchRunner;
  readonly #queue: Job[] = [];
  #queuedRows = 0;
  #running = false;
  #runs = 0;
  #rowsRun = 0;
  #runMs = 0;

  constructor(run: BatchRunner, options: SchedulerOptions) {
    this.#run = run;
    this.options = options;
  }

  /** Queue and run counters. */
  get stats(): SchedulerStats {
    return {
      queuedRows: this.#queuedRows,
      running: this.#running,
      runs: this.#runs,
      rowsRun: this.#rowsRun,
      runMs: this.#runMs,
    };
  }

  /**
   * Queues `rows` rows of `kind`; resolves with their output rows. Rejects
   * with `signal.reason` when the signal aborts first, and throws
   * {@link QueueFullError} when the queue is full.
   */
  submit(
    kind: RunKind,
    input: Float32Array,
    rows: number,
    signal?: AbortSignal,
  ): Promise<Float32Array> {
    if (rows < 1 || rows > this.options.maxBatch) {
      throw new RangeError(`a job has 1..${this.options.maxBatch} rows, got ${rows}.`);
    }
    signal?.throwIfAborted();
    if (this.#queuedRows + rows > this.options.maxQueuedRows) {
      throw new QueueFullError(
        `the inference queue holds ${this.#queuedRows} images (at most ${this.options.maxQueuedRows}).`,
      );
    }
    return new Promise<Float32Array>((resolve, reject) => {
      const job: Job = { kind, input, rows, resolve, reject };
      const onAbort = () => {
        const at = this.#queue.indexOf(job);
        if (at >= 0) {
          this.#queue.splice(at, 1);
          this.#queuedRows -= job.rows;
        }
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const settle = <T>(fn: (value: T) => void) => (value: T) => {
        signal?.removeEventListener("abort", onAbort);
        fn(value);
      };
      job.resolve = settle(resolve);
      job.reject = settle(reject);
      this.#queue.push(job);
      this.#queuedRows += rows;
      this.#pump();
    });
  }

  /** Starts the next batch, after a task boundary, unless one is running. */
  #pump(): void {
    if (this.#running || this.#queue.length === 0) return;
    this.#running = true;
    nextTask()
      .then(() => this.#queue.length > 0 ? this.#runBatch(this.#takeBatch()) : undefined)
      .finally(() => {
        this.#running = false;
        this.#pump();
      });
  }

  /** Removes and returns the waiting jobs of the first job's kind, up to maxBatch rows. */
  #takeBatch(): Job[] {
    const kind = this.#queue[0].kind;
    const batch: Job[] = [];
    let rows = 0;
    for (let k = 0; k < this.#queue.length;) {
      const job = this.#queue[k];
      if (job.kind === kind && rows + job.rows <= this.options.maxBatch) {
        batch.push(job);
        rows += job.rows;
        this.#queue.splice(k, 1);
      } else k++;
    }
    this.#queuedRows -= rows;
    return batch;
  }

  async #runBatch(batch: Job[]): Promise<void> {
    const rows = batch.reduce((n, job) => n + job.rows, 0);
    // A batch of one job runs on its input as it is, without a copy.
    const input = batch.length === 1
      ? batch[0].input
      : concatArrays(Float32Array, batch.map((job) => job.input));
    let output: Float32Array;
    const started = performance.now();
    try {
      output = await this.#run(batch[0].kind, input, rows);
    } catch (error) {
      for (const job of batch) job.reject(error);
      return;
    } finally {
      this.#runMs += performance.now() - started;
    }
    this.#runs++;
    this.#rowsRun += rows;
    const outSize = output.length / rows;
    let row = 0;
    for (const job of batch) {
      job.resolve(output.subarray(row * outSize, (row + job.rows) * outSize));
      row += job.rows;
    }
  }
}

/**
 * Resolves in a later turn of the event loop, after the timers, messages and
 * I/O waiting meanwhile. Between onnxruntime's runs neither a message to
 * itself through a `MessageChannel` nor a promise let a timer or a worker's
 * message through, and a zero timeout, clamped once nested, added about 4 ms
 * a run; `setImmediate` lets both through, at no cost this host could tell
 * from its noise.
 */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
