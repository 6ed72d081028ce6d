import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { InferenceScheduler, QueueFullError, type RunKind } from "./scheduler.ts";

/** A runner that doubles its input, records each batch, and finishes when released. */
function recordingRunner() {
  const batches: { kind: RunKind; rows: number }[] = [];
  const pending: (() => void)[] = [];
  const run = (kind: RunKind, input: Float32Array, rows: number) => {
    batches.push({ kind, rows });
    return new Promise<Float32Array>((resolve) => {
      pending.push(() => resolve(input.map((v) => 2 * v)));
    });
  };
  const releaseAll = async () => {
    while (pending.length > 0) {
      pending.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  return { run, batches, releaseAll };
}

/** Resolves after the tasks waiting now, a run's start among them. */
const laterTask = () => new Promise((r) => setTimeout(r, 0));

Deno.test("jobs that wait while a run is busy are batched together by kind, and get their own rows back", async () => {
  const { run, batches, releaseAll } = recordingRunner();
  const scheduler = new InferenceScheduler(run, { maxBatch: 4, maxQueuedRows: 100 });
  const first = scheduler.submit("head", Float32Array.of(1, 1), 1);
  await laterTask();
  // While the first runs, three head jobs and a tail job queue up.
  const a = scheduler.submit("head", Float32Array.of(2, 2, 3, 3), 2);
  const b = scheduler.submit("tail", Float32Array.of(9), 1);
  const c = scheduler.submit("head", Float32Array.of(4, 4), 1);
  const d = scheduler.submit("head", Float32Array.of(5, 5, 6, 6), 2); // would exceed 4 rows with a and c
  equal(scheduler.stats.queuedRows, 6);
  await releaseAll();
  deepEqual([...await first], [2, 2]);
  deepEqual([...await a], [4, 4, 6, 6]);
  deepEqual([...await c], [8, 8]);
  deepEqual([...await b], [18]);
  deepEqual([...await d], [10, 10, 12, 12]);
  deepEqual(batches, [
    { kind: "head", rows: 1 },
    { kind: "head", rows: 3 },
    { kind: "tail", rows: 1 },
    { kind: "head", rows: 2 },
  ]);
  const { runMs, ...counts } = scheduler.stats;
  deepEqual(counts, { queuedRows: 0, running: false, runs: 4, rowsRun: 7 });
  ok(runMs > 0);
});

Deno.test("a full queue refuses at once; an aborted job leaves the queue; a failed run rejects its batch", async () => {
  const { run, releaseAll } = recordingRunner();
  const scheduler = new InferenceScheduler(run, { maxBatch: 2, maxQueuedRows: 3 });
  const running = scheduler.submit("head", Float32Array.of(1), 1);
  await laterTask();
  const controller = new AbortController();
  const queued = scheduler.submit("head", Float32Array.of(2, 3), 2, controller.signal);
  scheduler.submit("tail", Float32Array.of(4), 1).catch(() => {});
  throws(() => scheduler.submit("tail", Float32Array.of(5), 1), QueueFullError);
  controller.abort(new DOMException("too slow", "TimeoutError"));
  await rejects(queued, (e: DOMException) => e.name === "TimeoutError");
  equal(scheduler.stats.queuedRows, 1, "the aborted job's rows left the queue");
  throws(() => scheduler.submit("head", new Float32Array(3), 3), RangeError);
  await releaseAll();
  await running;

  const failing = new InferenceScheduler(() => Promise.reject(new Error("wasm trap")), {
    maxBatch: 4,
    maxQueuedRows: 8,
  });
  await rejects(failing.submit("head", Float32Array.of(1), 1), /wasm trap/);
  ok(!failing.stats.running);
});

Deno.test("jobs given in one task run as one batch; timers and messages run between runs", async () => {
  const { run, batches, releaseAll } = recordingRunner();
  const scheduler = new InferenceScheduler(run, { maxBatch: 8, maxQueuedRows: 8 });
  const jobs = [1, 2, 3].map((v) => scheduler.submit("head", Float32Array.of(v), 1));
  await laterTask();
  await releaseAll();
  deepEqual(await Promise.all(jobs).then((out) => out.map((o) => o[0])), [2, 4, 6]);
  deepEqual(batches, [{ kind: "head", rows: 3 }]);

  // Runs whose promises settle as microtasks, as wasm inference's do: a chain of them must
  // still let a timer (a worker's cancel message, a new request) through before it ends.
  const instant = new InferenceScheduler(
    (_kind, input) => Promise.resolve(input),
    { maxBatch: 1, maxQueuedRows: 1 },
  );
  let timerFired = false, runsBeforeTimer = 0;
  setTimeout(() => (timerFired = true), 0);
  for (let step = 0; step < 1000 && !timerFired; step++) {
    await instant.submit("head", Float32Array.of(step), 1);
    runsBeforeTimer++;
  }
  ok(timerFired, "a timer ran before the chain of runs ended");
  ok(runsBeforeTimer < 1000);
});
