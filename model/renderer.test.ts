import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { JobGivenUpError, type JobResult, jobUnits, type PictureJob } from "./jobs.ts";
import {
  CostModel,
  KNOWLEDGE_MS,
  type LaneRunner,
  OverloadError,
  Renderer,
  TooMuchWorkError,
} from "./renderer.ts";
import { QueueFullError } from "./scheduler.ts";
import { swapJob } from "./testing/jobs.ts";

const JOB: PictureJob = { kind: "kernel", image: 1, kernel: 0, style: "heat", size: 64 };
// At the model's resolution a map job is 1 + 2 = 3 work units.
const UNITS = 3;

/**
 * A lane that takes `ms` per job (a quarter of it "inference") in steps of `stepMs`, and records
 * the jobs it ran; a job given up stops at its next step, as a worker's does.
 */
function standIn(ms: number, ran: string[], name: string, stepMs = 10): LaneRunner {
  return async (_job, signal) => {
    ran.push(name);
    const start = performance.now();
    for (let done = 0; done < ms; done += stepMs) {
      await new Promise((resolve) => setTimeout(resolve, stepMs));
      if (signal.aborted) throw new JobGivenUpError(performance.now() - start);
    }
    const result: JobResult = { picture: new Uint8Array([1]) };
    return { result, renderMs: ms, inferenceMs: ms / 4 };
  };
}

/** Resolves when `renderer` has no job waiting or running. */
async function drained(renderer: Renderer): Promise<void> {
  while (renderer.load().jobs > 0) await new Promise((resolve) => setTimeout(resolve, 5));
}

const never = () => new AbortController().signal;

Deno.test("the cost model takes its first measurement, then a running average", () => {
  const costs = new CostModel(64, 8);
  equal(costs.estimate(JOB), 10 * UNITS, "the initial guess per unit");
  costs.observe(JOB, 30 * UNITS);
  equal(costs.estimate(JOB), 30 * UNITS);
  costs.observe(JOB, 80 * UNITS);
  equal(Math.round(costs.estimate(JOB)), Math.round((0.8 * 30 + 0.2 * 80) * UNITS));
  deepEqual(costs.snapshot(), { kernel: 40 });
});

Deno.test("a photo's jobs are costed apart from a seed's of the same kind", () => {
  const costs = new CostModel(64, 8);
  const photoJob: PictureJob = { ...JOB, image: { photo: new Uint8Array(8), fit: 0 } };
  // The photo adds one work unit (its encoding; no fitting steps).
  costs.observe(JOB, 5 * UNITS);
  equal(costs.estimate(photoJob), 5 * (UNITS + 1), "not yet measured: guessed at the seed's rate");
  costs.observe(photoJob, 12 * (UNITS + 1));
  equal(costs.estimate(JOB), 5 * UNITS, "the photo's rate leaves the seed's alone");
  equal(costs.estimate(photoJob), 12 * (UNITS + 1));
  deepEqual(costs.snapshot(), { kernel: 5, "kernel+photo": 12 });
  // A kind not yet measured is guessed at the dearest rate measured so far.
  const swap = swapJob();
  equal(costs.estimate(swap), 12 * jobUnits(swap, 64, 8));
});

Deno.test("a job the time limit cuts off still teaches the cost model its lower bound", async () => {
  const costs = new CostModel(64, 8);
  const renderer = new Renderer([standIn(300, [], "a")], costs, {
    timeoutMs: 10_000,
    maxQueuedImages: 100,
  });
  await rejects(renderer.run(JOB, AbortSignal.timeout(100)));
  await drained(renderer);
  ok(costs.estimate(JOB) >= 90, `learned ${costs.estimate(JOB)} ms, at least the 100 it ran`);
  costs.observeAtLeast(JOB, 10);
  ok(costs.estimate(JOB) >= 90, "a shorter cut-off run lowers nothing");
});

Deno.test("a job given up while it runs is answered at once, and counted until it has stopped", async () => {
  // Steps of 400 ms: the job sees its signal up to 400 ms after the request was given up.
  const ran: string[] = [];
  const renderer = new Renderer([standIn(1200, ran, "a", 400)], new CostModel(64, 8), {
    timeoutMs: 10_000,
    maxQueuedImages: 100,
  });
  const start = performance.now();
  await rejects(
    renderer.run(JOB, AbortSignal.timeout(50)),
    (e) => e instanceof DOMException && e.name === "TimeoutError",
  );
  const answeredMs = performance.now() - start;
  ok(answeredMs < 350, `answered after ${Math.round(answeredMs)} ms, before the job stopped`);
  equal(renderer.load().jobs, 1, "the lane still counts the job that has not stopped");
  const next = renderer.run(JOB, never());
  equal(renderer.load().jobs, 2);
  await next;
  ok(performance.now() - start >= 400 + 1200, "the next job ran after the given-up one stopped");
  equal(renderer.load().jobs, 0);
});

Deno.test("a refusal says when its estimate is a guess", async () => {
  const renderer = new Renderer([standIn(300, [], "a")], new CostModel(64, 8), {
    timeoutMs: 100,
    maxQueuedImages: 100,
  });
  // Unmeasured: the first job is taken on the idle lane; the second's guess is over the limit.
  const first = renderer.run(JOB, never());
  await rejects(
    renderer.run({ ...JOB, size: 256 }, never()),
    (e) =>
      e instanceof OverloadError && /a guess: none of its kind has been drawn yet/.test(e.message),
  );
  await first;
});

Deno.test("a kind refused as too much work is measured again once what showed it is a minute old", async () => {
  let now = 0;
  const costs = new CostModel(64, 8, () => now);
  const ran: string[] = [];
  const renderer = new Renderer([standIn(20, ran, "a")], costs, {
    timeoutMs: 1_000,
    maxQueuedImages: 100,
  });
  // Runs that took long (hostile photos, say) raised the kind's cost past the limit.
  costs.observe(JOB, 5_000);
  await rejects(renderer.run(JOB, never()), TooMuchWorkError);
  now += KNOWLEDGE_MS - 1;
  await rejects(renderer.run(JOB, never()), TooMuchWorkError);
  now += 2;
  // Stale: the idle lane takes the job, and its run brings the estimate down.
  await renderer.run(JOB, never());
  deepEqual(ran, ["a"]);
  equal(costs.estimate(JOB), 20, "the new measurement, not an average with the stale one");
  await renderer.run(JOB, never());
  // A run cut off after a stale minute likewise takes the stale estimate's place.
  now += KNOWLEDGE_MS + 1;
  costs.observeAtLeast(JOB, 5_000);
  equal(costs.estimate(JOB), 5_000);
});

Deno.test("admission by expected work: refused at once, with Retry-After from the queue", async () => {
  const ran: string[] = [];
  const renderer = new Renderer([standIn(100, ran, "a")], new CostModel(64, 8), {
    timeoutMs: 250,
    maxQueuedImages: 100,
  });
  await renderer.run(JOB, never()); // measures about 100 ms for the job
  const first = renderer.run(JOB, never());
  const second = renderer.run(JOB, never()); // about 100 waiting + 100: within 250
  let refusal: unknown;
  try {
    await renderer.run(JOB, never()); // about 200 waiting + 100: over
  } catch (error) {
    refusal = error;
  }
  ok(refusal instanceof OverloadError, String(refusal));
  equal(refusal.retryAfterSeconds, 1);
  ok(renderer.load().overloaded === false && renderer.load().jobs === 2);
  await Promise.all([first, second]);
  equal(ran.length, 3);
  equal(renderer.load().jobs, 0);
});

Deno.test("each request's timing sums its jobs: their wait, their run where they ran, their inference", async () => {
  // The stand-in reports the time it really took, so that a busy machine (timers late) cannot
  // make a wait out of a slow run.
  const reported: number[] = [];
  const lane: LaneRunner = async () => {
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 40));
    const renderMs = performance.now() - start;
    reported.push(renderMs);
    return { result: { picture: new Uint8Array([1]) }, renderMs, inferenceMs: renderMs / 4 };
  };
  const renderer = new Renderer([lane], new CostModel(64, 8), {
    timeoutMs: 10_000,
    maxQueuedImages: 100,
  });
  const [first, second] = [new AbortController().signal, new AbortController().signal];
  equal(renderer.timingOf(first), undefined, "nothing before a job finishes");
  await Promise.all([renderer.run(JOB, first), renderer.run(JOB, second)]);
  await renderer.run(JOB, second);
  const one = renderer.timingOf(first)!, two = renderer.timingOf(second)!;
  deepEqual([one.renderMs, one.inferenceMs], [reported[0], reported[0] / 4]);
  const secondRuns = reported[1] + reported[2];
  deepEqual([two.renderMs, two.inferenceMs], [secondRuns, secondRuns / 4], "its two jobs");
  ok(one.waitMs < 20, `the first job did not wait (${one.waitMs} ms)`);
  ok(two.waitMs >= 30, `the second waited for the first (${two.waitMs} ms)`);
});

Deno.test("a lane hands its runner at most inFlightPerLane jobs at once, in order", async () => {
  const started: number[] = [];
  let running = 0, most = 0;
  const lane: LaneRunner = async (job) => {
    started.push((job as { kernel: number }).kernel);
    most = Math.max(most, ++running);
    await new Promise((resolve) => setTimeout(resolve, 30));
    running--;
    return { result: { picture: new Uint8Array([1]) }, renderMs: 30, inferenceMs: 0 };
  };
  for (const inFlight of [1, 2]) {
    started.length = 0, most = 0;
    const renderer = new Renderer([lane], new CostModel(64, 8), {
      timeoutMs: 10_000,
      maxQueuedImages: 100,
      inFlightPerLane: inFlight,
    });
    const jobs = [0, 1, 2, 3, 4].map((kernel) => renderer.run({ ...JOB, kernel }, never()));
    await Promise.all(jobs);
    equal(most, inFlight, `at most ${inFlight} at once`);
    deepEqual(started, [0, 1, 2, 3, 4], "handed over in order");
  }
});

Deno.test("jobs go to the lane with the least work waiting; a job given up while waiting never runs", async () => {
  const ran: string[] = [];
  const renderer = new Renderer(
    [standIn(50, ran, "a"), standIn(50, ran, "b")],
    new CostModel(64, 8),
    { timeoutMs: 10_000, maxQueuedImages: 100 },
  );
  await Promise.all([renderer.run(JOB, never()), renderer.run(JOB, never())]);
  deepEqual(ran.sort(), ["a", "b"]);
  ran.length = 0;
  const busy = [renderer.run(JOB, never()), renderer.run(JOB, never())];
  const controller = new AbortController();
  const waiting = renderer.run(JOB, controller.signal);
  equal(renderer.load().jobs, 3);
  const before = renderer.load().expectedWaitMs;
  controller.abort(new DOMException("gone", "AbortError"));
  equal(renderer.load().jobs, 2, "the given-up job leaves the count at once");
  ok(renderer.load().expectedWaitMs <= before, "and its expected work with it");
  await rejects(waiting, (e) => e instanceof DOMException && e.name === "AbortError");
  await Promise.all(busy);
  equal(ran.length, 2, "the given-up job did not run");
});

Deno.test("the images waiting are bounded: beyond it a QueueFullError", async () => {
  const ran: string[] = [];
  const renderer = new Renderer([standIn(30, ran, "a")], new CostModel(64, 8), {
    timeoutMs: 10_000,
    maxQueuedImages: 1,
  });
  const first = renderer.run(JOB, never());
  await rejects(renderer.run(JOB, never()), QueueFullError);
  await first;
});

Deno.test("a job whose measured cost alone passes the time limit is refused at once with TooMuchWorkError", async () => {
  const costs = new CostModel(64, 8);
  const renderer = new Renderer([standIn(20, [], "a")], costs, {
    timeoutMs: 1_000,
    maxQueuedImages: 100,
  });
  const big: PictureJob = { ...JOB, kind: "kernel-grid", size: 64 * 8 };
  // Unmeasured, the guess is not trusted: an idle lane takes the job.
  ok(costs.estimate(big) > 1_000);
  await renderer.run(big, never());
  costs.observe(big, 5_000);
  const needs = `${Math.round(costs.estimate(big))} ms`;
  ok(costs.estimate(big) > 1_000);
  await rejects(
    renderer.run(big, never()),
    (e) => e instanceof TooMuchWorkError && e.message.includes(needs),
  );
  equal(renderer.load().jobs, 0);
  await renderer.run(JOB, never());

  // A kind never measured: a run cut off early lowers nothing; one cut off past the limit shows
  // that the job cannot fit, and the next such job is refused at once.
  const fresh = new CostModel(64, 8);
  const cold = new Renderer([standIn(20, [], "a")], fresh, {
    timeoutMs: 1_000,
    maxQueuedImages: 100,
  });
  const guess = fresh.estimate(big);
  fresh.observeAtLeast(big, 5);
  equal(fresh.estimate(big), guess, "the guess stands");
  equal(fresh.knownCost(big), 5);
  fresh.observeAtLeast(big, 1_500);
  await rejects(cold.run(big, never()), TooMuchWorkError);
  // A run cut off just short of the limit (its request's reading took the rest) shows it too.
  const third = new CostModel(64, 8);
  third.observeAtLeast(big, 980);
  await rejects(
    new Renderer([standIn(20, [], "a")], third, { timeoutMs: 1_000, maxQueuedImages: 100 })
      .run(big, never()),
    TooMuchWorkError,
  );
  ok(fresh.estimate(JOB) === 10 * UNITS, "another kind keeps its guess");
});

Deno.test("jobs go to the lanes that can draw; with none, they are refused at once", async () => {
  const ran: string[] = [];
  const up = [false, true];
  const renderer = new Renderer(
    [standIn(10, ran, "a"), standIn(10, ran, "b")],
    new CostModel(64, 8),
    { timeoutMs: 1_000, maxQueuedImages: 100, laneUp: (lane) => up[lane] },
  );
  await Promise.all([renderer.run(JOB, never()), renderer.run(JOB, never())]);
  deepEqual(ran, ["b", "b"], "lane a is being started again");
  equal(renderer.load().lanesUp, 1);
  up[1] = false;
  await rejects(renderer.run(JOB, never()), OverloadError);
  const load = renderer.load();
  equal(load.lanesUp, 0);
  equal(load.overloaded, true, "/readyz: not ready");
});
