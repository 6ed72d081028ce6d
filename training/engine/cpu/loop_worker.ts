/**
 * A worker thread of the CPU backend's loops (see `threads.ts`): it keeps
 * the shared memory and kernel sources it is sent, waits for tasks in its
 * mailbox, runs each one's range, and raises its flag when done.
 *
 * @module
 */

import { parentPort } from "node:worker_threads";
import type { ConvGeometry } from "../backend.ts";
import { LAYOUTS } from "./conv.ts";
import { LoopCache } from "./loops.ts";
import {
  DONE,
  FAILED,
  FLAG,
  GEOMETRY_FIELDS,
  LAYOUT_NAMES,
  SEQUENCE,
  takeChunks,
  type WorkerMessage,
  workerWords,
} from "./threads.ts";

const memories = new Map<number, SharedArrayBuffer>();
const sources = new Map<number, string>();
const kernels = new LoopCache();
/** Resolves when the next message has been handled: a task may name memory still in flight. */
let nextMessage: (() => void) | null = null;

parentPort!.on("message", (message: WorkerMessage) => {
  if (message.kind === "init") {
    void serve(
      new Int32Array(message.control),
      new Float64Array(message.mailbox),
      message.slot,
    );
  } else if (message.kind === "memory") memories.set(message.id, message.memory);
  else if (message.kind === "forget") memories.delete(message.id);
  else sources.set(message.id, message.source);
  nextMessage?.();
  nextMessage = null;
});

/** Waits for each task in the mailbox, runs it, and raises the flag. */
async function serve(control: Int32Array, mailbox: Float64Array, slot: number): Promise<void> {
  const base = workerWords(slot);
  // Tasks are counted from 0: one may be waiting already when this worker starts.
  let sequence = 0;
  for (;;) {
    const wait = Atomics.waitAsync(control, base + SEQUENCE, sequence);
    if (wait.async) await wait.value;
    sequence = Atomics.load(control, base + SEQUENCE);
    let status = DONE;
    try {
      await runTask(control, mailbox);
    } catch (error) {
      console.error(`error: CPU loop thread ${slot}: ${error}`);
      status = FAILED;
    }
    Atomics.store(control, base + FLAG, status);
    Atomics.notify(control, base + FLAG);
  }
}

/** Takes chunks of the task in the mailbox until none is left (see `threads.ts` for its slots). */
async function runTask(control: Int32Array, mailbox: Float64Array): Promise<void> {
  // Integers read from a Float64Array are doubles: `| 0` keeps the loop indices small integers,
  // which V8 compiles to integer arithmetic (doubles made the loops about four times slower).
  const [kind, which, total, chunks, count] = Array.from(mailbox.subarray(0, 5), (v) => v | 0);
  const ids = Array.from({ length: count }, (_, k) => mailbox[5 + 3 * k]);
  while (!ids.every((id) => memories.has(id)) || (kind === 0 && !sources.has(which))) {
    await new Promise<void>((resolve) => nextMessage = resolve);
  }
  const arrays = ids.map((id, k) =>
    new Float32Array(memories.get(id)!, mailbox[6 + 3 * k] | 0, mailbox[7 + 3 * k] | 0)
  );
  const at = 5 + 3 * count;
  const numbers = Array.from(mailbox.subarray(at + 1, at + 1 + mailbox[at]));
  if (kind === 0) {
    const kernel = kernels.get(sources.get(which)!);
    takeChunks(control, total, chunks, (lo, hi) => kernel(arrays, numbers, lo, hi));
    return;
  }
  // A rearrangement's numbers are all integers.
  const integers = numbers.map((v) => v | 0);
  const geometry = Object.fromEntries(
    GEOMETRY_FIELDS.map((field, k) => [field, integers[k]]),
  ) as unknown as ConvGeometry;
  const layout = LAYOUTS[LAYOUT_NAMES[which]], rest = integers.slice(GEOMETRY_FIELDS.length);
  takeChunks(control, total, chunks, (lo, hi) => layout(geometry, arrays, rest, lo, hi));
}
