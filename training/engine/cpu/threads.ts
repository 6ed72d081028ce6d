/**
 * The CPU backend's other cores for its JavaScript loops. OpenBLAS runs the
 * GEMMs on every core, but the generated loops (batch norm, activations,
 * Adam) and the convolutions' rearrangements ran on one, about half of a
 * small model's step. Here a kernel's outermost loop is cut into chunks
 * that the calling thread and the worker threads take in turn, over the
 * same memory (`SharedArrayBuffer`s, which the pool and the scratch
 * buffers hand out), so the results are those of one thread, to the bit:
 * every element or sum is computed by one thread, in the same order.
 *
 * A task goes to a worker through its mailbox, shared memory that it
 * watches (a message would take 70 us to arrive, this about 15); each
 * array's memory and each kernel's source go to it by message, once. The
 * calling thread waits for the workers on a shared flag each.
 *
 * @module
 */

import { Worker } from "node:worker_threads";
import type { ConvGeometry } from "../backend.ts";
import { EngineError } from "../errors.ts";

/** The convolution rearrangements a worker can run (`conv.ts`'s `LAYOUTS`), in mailbox order. */
export const LAYOUT_NAMES = ["im2col", "col2im", "gridToImages", "imagesToGrid"] as const;

/** Names of the convolution rearrangements. */
export type LayoutName = typeof LAYOUT_NAMES[number];

/** Work that threads share by chunks [lo, hi) of its outermost loop. */
export type LoopTask =
  | {
    kind: "kernel";
    /** A generated kernel's source (`loops.ts`). */
    source: string;
    arrays: readonly Float32Array[];
    scalars: readonly number[];
  }
  | {
    kind: "layout";
    name: LayoutName;
    geometry: ConvGeometry;
    arrays: readonly Float32Array[];
    numbers: readonly number[];
  };

/** Runs a task: on the calling thread alone, or shared with workers. */
export interface LoopRunner {
  /**
   * Runs `task` over [0, total), `local` being the calling thread's way to
   * run a range; `work` (elements touched) decides whether sharing pays.
   */
  run(task: LoopTask, total: number, work: number, local: (lo: number, hi: number) => void): void;
}

/** Everything on the calling thread. */
export const ONE_THREAD: LoopRunner = {
  run: (_task, total, _work, local) => local(0, total),
};

/**
 * Below this many elements a task stays on the calling thread: handing it
 * to a worker and back takes about 15 us, and a message with new memory
 * 70, the time one thread takes for 15,000 to 60,000 elements of a map.
 */
const SHARE_FROM = 1 << 16;

/** How long the calling thread waits for a worker's part of a task before it gives up. */
const ANSWER_WITHIN_MS = 60_000;

/** Messages to a worker (see `loop_worker.ts`); tasks themselves go through its mailbox. */
export type WorkerMessage =
  | { kind: "init"; control: SharedArrayBuffer; mailbox: SharedArrayBuffer; slot: number }
  | { kind: "memory"; id: number; memory: SharedArrayBuffer }
  | { kind: "forget"; id: number }
  | { kind: "source"; id: number; source: string };

/** A worker's flag values: running, done, failed. */
export const RUNNING = 0, DONE = 1, FAILED = 2;

/** A geometry's fields in mailbox order. */
export const GEOMETRY_FIELDS: readonly (keyof ConvGeometry)[] = [
  "B",
  "Cin",
  "H",
  "W",
  "Cout",
  "KH",
  "KW",
  "stride",
  "pad",
  "OH",
  "OW",
];

/**
 * Slots of a worker's mailbox, a Float64Array: the task's kind (0 kernel,
 * 1 rearrangement), its source id or rearrangement, the size of its
 * outermost loop and the chunks it is cut into, the number of
 * arrays and, for each, its memory's id, byte offset and length, then the
 * number of numbers and the numbers (a kernel's scalars; a rearrangement's
 * geometry fields, then its numbers).
 */
const MAILBOX_SLOTS = 1024;

/**
 * The control words, one Int32Array: first the next chunk of the task at
 * hand to take, then per worker the task sequence number (the worker waits
 * for it to change) and the worker's flag.
 */
export const NEXT_CHUNK = 0, SEQUENCE = 0, FLAG = 1, WORDS_PER_WORKER = 2;

/** Where worker `slot`'s control words start. */
export function workerWords(slot: number): number {
  return 1 + slot * WORDS_PER_WORKER;
}

/**
 * Chunks a shared task is cut into per thread. Threads take chunks until
 * none is left, so a thread whose core is busy elsewhere (these machines'
 * second vCPU slows down for seconds at a time) takes fewer.
 */
const CHUNKS_PER_THREAD = 4;

/**
 * Runs chunks of [0, total) cut into `chunks` until every chunk is taken,
 * taking each from the shared counter: the calling thread and the workers
 * run this same loop on one task. Returns how many chunks it ran.
 */
export function takeChunks(
  control: Int32Array,
  total: number,
  chunks: number,
  run: (lo: number, hi: number) => void,
): number {
  for (let taken = 0;; taken++) {
    const chunk = Atomics.add(control, NEXT_CHUNK, 1);
    if (chunk >= chunks) return taken;
    run(Math.round((total * chunk) / chunks), Math.round((total * (chunk + 1)) / chunks));
  }
}

/** Worker threads for the CPU backend's loops; owned by the backend. */
export class LoopThreads implements LoopRunner {
  readonly #workers: Worker[];
  readonly #control: Int32Array<SharedArrayBuffer>;
  readonly #mailboxes: Float64Array<SharedArrayBuffer>[];
  readonly #memoryIds = new WeakMap<SharedArrayBuffer, number>();
  readonly #sourceIds = new Map<string, number>();
  #nextId = 0;
  #workerChunks = 0;

  /** Starts `count` workers (the calling thread makes one more). */
  constructor(count: number) {
    this.#control = new Int32Array(new SharedArrayBuffer(4 * workerWords(count)));
    this.#mailboxes = Array.from(
      { length: count },
      () => new Float64Array(new SharedArrayBuffer(8 * MAILBOX_SLOTS)),
    );
    this.#workers = this.#mailboxes.map((mailbox, slot) => {
      const worker = new Worker(new URL("./loop_worker.ts", import.meta.url));
      worker.unref(); // idle workers do not keep a finished program running
      worker.on("error", (error) => console.error(`error: CPU loop thread ${slot}: ${error}`));
      worker.postMessage(
        {
          kind: "init",
          control: this.#control.buffer,
          mailbox: mailbox.buffer,
          slot,
        } satisfies WorkerMessage,
      );
      return worker;
    });
  }

  /** Chunks of tasks that the workers ran so far (the rest ran on the calling thread). */
  get workerChunks(): number {
    return this.#workerChunks;
  }

  /** Threads a task can use: the workers and the calling one. */
  get threads(): number {
    return this.#workers.length + 1;
  }

  run(task: LoopTask, total: number, work: number, local: (lo: number, hi: number) => void) {
    const parts = Math.min(this.threads, total);
    if (parts < 2 || work < SHARE_FROM || !task.arrays.every(isShared)) return local(0, total);
    const header = task.kind === "kernel"
      ? [0, this.#sourceId(task.source)]
      : [1, LAYOUT_NAMES.indexOf(task.name)];
    const arrays = task.arrays.flatMap((array) => [
      this.#memoryId(array.buffer as SharedArrayBuffer),
      array.byteOffset,
      array.length,
    ]);
    const numbers = task.kind === "kernel"
      ? task.scalars
      : [...GEOMETRY_FIELDS.map((field) => task.geometry[field]), ...task.numbers];
    if (6 + arrays.length + numbers.length > MAILBOX_SLOTS) return local(0, total);
    const chunks = Math.min(total, parts * CHUNKS_PER_THREAD);
    Atomics.store(this.#control, NEXT_CHUNK, 0);
    for (let part = 1; part < parts; part++) {
      const mailbox = this.#mailboxes[part - 1], base = workerWords(part - 1);
      mailbox.set([...header, total, chunks, task.arrays.length, ...arrays]);
      mailbox.set([numbers.length, ...numbers], 5 + arrays.length);
      Atomics.store(this.#control, base + FLAG, RUNNING);
      Atomics.add(this.#control, base + SEQUENCE, 1);
      Atomics.notify(this.#control, base + SEQUENCE);
    }
    this.#workerChunks += chunks - takeChunks(this.#control, total, chunks, local);
    for (let part = 1; part < parts; part++) {
      const flag = workerWords(part - 1) + FLAG;
      // A worker that died cannot say so while this thread waits: no task takes a minute.
      if (Atomics.wait(this.#control, flag, RUNNING, ANSWER_WITHIN_MS) === "timed-out") {
        throw new EngineError(
          `A CPU loop thread did not answer within ${ANSWER_WITHIN_MS / 1000} s; ` +
            "OPENBLAS_NUM_THREADS=1 runs the CPU backend on one thread.",
        );
      }
      if (Atomics.load(this.#control, flag) === FAILED) {
        throw new EngineError(
          "A CPU loop thread failed (its error is printed above); OPENBLAS_NUM_THREADS=1 runs " +
            "the CPU backend on one thread.",
        );
      }
    }
  }

  /** Lets the workers drop memory that is being freed (when they ever received it). */
  forget(array: Float32Array): void {
    const memory = array.buffer as SharedArrayBuffer, id = this.#memoryIds.get(memory);
    if (id === undefined) return;
    this.#memoryIds.delete(memory);
    this.#post({ kind: "forget", id });
  }

  /** Stops the workers (a backend lives as long as its process: this is for tests). */
  close(): void {
    for (const worker of this.#workers) void worker.terminate();
  }

  /** The id of shared memory, sending it to the workers the first time. */
  #memoryId(memory: SharedArrayBuffer): number {
    let id = this.#memoryIds.get(memory);
    if (id === undefined) {
      this.#memoryIds.set(memory, id = this.#nextId++);
      this.#post({ kind: "memory", id, memory });
    }
    return id;
  }

  /** The id of a kernel's source, sending it to the workers the first time. */
  #sourceId(source: string): number {
    let id = this.#sourceIds.get(source);
    if (id === undefined) {
      this.#sourceIds.set(source, id = this.#sourceIds.size);
      this.#post({ kind: "source", id, source });
    }
    return id;
  }

  #post(message: WorkerMessage): void {
    for (const worker of this.#workers) worker.postMessage(message);
  }
}

function isShared(array: Float32Array): boolean {
  return array.buffer instanceof SharedArrayBuffer;
}
