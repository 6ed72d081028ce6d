/**
 * Renderers run picture jobs (`jobs.ts`) with admission by work: each job's
 * cost is estimated from measured milliseconds per work unit (kept up to date
 * from every finished job), and a job whose expected wait plus its own cost
 * exceeds the time limit is refused at once with {@link OverloadError}, whose
 * `retryAfterSeconds` says when the queue will have drained enough, and one
 * whose cost alone exceeds it with {@link TooMuchWorkError}.
 *
 * A renderer has lanes that each run one job at a time: the
 * {@link localRenderer} one, in this thread; the worker pool
 * (`worker_pool.ts`) one per worker, so that this thread only accepts
 * requests and answers. A job goes to the lane with the least work waiting.
 *
 * Each job's timing (its wait in the lane, its time where it ran, and of that
 * the networks' runs) is kept for its request's signal, so that the HTTP
 * layer can answer it as a `Server-Timing` header ({@link Renderer.timingOf}).
 *
 * @module
 */

import {
  costKind,
  JobGivenUpError,
  jobImages,
  type JobResult,
  jobUnits,
  type PictureJob,
  type RenderedJob,
  renderTimedJob,
} from "./jobs.ts";
import { z } from "zod";
import type { ServedModel } from "./model.ts";
import { untilAborted } from "../core/until_aborted.ts";
import { roundTo } from "../core/numbers.ts";
import { QueueFullError } from "./scheduler.ts";

/** The expected wait is over the time limit: answer 503 with `Retry-After`. */
export class OverloadError extends Error {
  override name = "OverloadError";
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The job alone is known to take longer than the time limit (by its kind's
 * measured cost, or a cut-off run's): answer 422, since trying again cannot
 * help; `message` says what the request can ask for less of.
 */
export class TooMuchWorkError extends Error {
  override name = "TooMuchWorkError";
}

/**
 * The share of the time limit a request's drawing cannot have: reading the
 * request, handing the job over and answering take the rest. A job known to
 * cost more than the remainder (a run the limit cut off shows nearly the whole
 * limit) cannot finish in time, so it is refused with {@link TooMuchWorkError}.
 */
const READING_SHARE = 0.05;

/**
 * Until any kind has been measured: a guess per work unit, replaced by the
 * first measurement (a 64-px generation of the width-32 default costs about
 * 7-10 ms a unit on a 2-vCPU host; larger pictures less a unit). At 25 a
 * fresh server had guessed 16 s for a 512-px swap strip that took 1.3, and
 * refused the next requests for it.
 */
const INITIAL_MS_PER_UNIT = 10;
/** Weight of each new measurement in the running estimate. */
const SMOOTHING = 0.2;

/**
 * How long what a kind's runs showed may refuse a job as too much work: past
 * it, an idle lane takes the next job to measure the kind again, so that a
 * few runs that took long (hostile photos, a busy moment) do not refuse a
 * kind for good, since a refused job is never measured.
 */
export const KNOWLEDGE_MS = 60_000;

/** Milliseconds per work unit by job kind, from finished jobs. */
export class CostModel {
  readonly #resolution: number;
  readonly #channels: number;
  readonly #now: () => number;
  /** By {@link costKind}. */
  readonly #msPerUnit = new Map<string, number>();
  /** Of kinds not yet measured, the most a cut-off run showed a unit costs at least. */
  readonly #floors = new Map<string, number>();
  /** When each kind's last run ended, by {@link costKind}. */
  readonly #seenAt = new Map<string, number>();

  /** `now` gives the time in milliseconds (tests pass a clock of their own). */
  constructor(resolution: number, channels: number, now: () => number = () => performance.now()) {
    this.#resolution = resolution;
    this.#channels = channels;
    this.#now = now;
  }

  /** Expected milliseconds of `job`. */
  estimate(job: PictureJob): number {
    const rate = this.#msPerUnit.get(costKind(job)) ??
      Math.max(this.#guess(), this.#floors.get(costKind(job)) ?? 0);
    return this.#units(job) * rate;
  }

  /**
   * A unit's guess for a kind not yet measured: the dearest rate measured of
   * any kind (this host's and model's speed), else {@link INITIAL_MS_PER_UNIT}.
   */
  #guess(): number {
    return this.#msPerUnit.size === 0 ? INITIAL_MS_PER_UNIT : Math.max(...this.#msPerUnit.values());
  }

  /**
   * Milliseconds `job` is known to cost: its estimate once its kind has been
   * measured, else at least what cut-off runs of its kind showed (0 for none);
   * 0 when its kind's last run is older than {@link KNOWLEDGE_MS}.
   */
  knownCost(job: PictureJob): number {
    if (!this.#fresh(costKind(job))) return 0;
    return this.measured(job)
      ? this.estimate(job)
      : this.#units(job) * (this.#floors.get(costKind(job)) ?? 0);
  }

  /**
   * Takes in that `job` took `ms` to run: into the running average, or in its
   * place when the kind's last run is older than {@link KNOWLEDGE_MS}.
   */
  observe(job: PictureJob, ms: number): void {
    const kind = costKind(job);
    const previous = this.#fresh(kind) ? this.#msPerUnit.get(kind) : undefined;
    this.#seenAt.set(kind, this.#now());
    const rate = ms / this.#units(job);
    this.#msPerUnit.set(
      kind,
      previous === undefined ? rate : (1 - SMOOTHING) * previous + SMOOTHING * rate,
    );
  }

  /**
   * Takes in that `job` ran `ms` before it was given up: it costs at least
   * that, so an estimate under it (or a stale one) takes it as if `ms` had
   * been measured; of a kind not yet measured, it is kept as a lower bound
   * ({@link knownCost}) and never lowers the guess. Without it, a kind whose
   * every run the time limit cuts off would never be learned and never
   * refused.
   */
  observeAtLeast(job: PictureJob, ms: number): void {
    const kind = costKind(job);
    if (!this.measured(job)) {
      const floor = ms / this.#units(job);
      this.#floors.set(kind, Math.max(floor, this.#floors.get(kind) ?? 0));
      this.#seenAt.set(kind, this.#now());
    } else if (!this.#fresh(kind) || this.estimate(job) < ms) this.observe(job, ms);
    else this.#seenAt.set(kind, this.#now());
  }

  /** Whether `kind`'s last run is at most {@link KNOWLEDGE_MS} old. */
  #fresh(kind: string): boolean {
    const seen = this.#seenAt.get(kind);
    return seen !== undefined && this.#now() - seen <= KNOWLEDGE_MS;
  }

  /** Whether jobs of `job`'s {@link costKind} have been measured (else {@link estimate} is a guess). */
  measured(job: PictureJob): boolean {
    return this.#msPerUnit.has(costKind(job));
  }

  /** Expected milliseconds of the smallest job: one work unit of the cheapest kind measured. */
  smallestMs(): number {
    return this.#msPerUnit.size === 0 ? INITIAL_MS_PER_UNIT : Math.min(...this.#msPerUnit.values());
  }

  /** The current estimates, for `/readyz`. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#msPerUnit].map(([k, v]) => [k, roundTo(v, 2)]));
  }

  #units(job: PictureJob): number {
    return jobUnits(job, this.#resolution, this.#channels);
  }
}

/**
 * Runs one job: in this thread, or by posting it to a worker. It settles once
 * the job has stopped where it runs; a job stopped by `signal` rejects with
 * a {@link JobGivenUpError} (or the signal's reason if it never started).
 */
export type LaneRunner = (job: PictureJob, signal: AbortSignal) => Promise<RenderedJob>;

/** Where a request's picture jobs spent their time, in milliseconds (summed over its jobs). */
export interface JobTiming {
  /** Waiting for earlier jobs, and the hand-over to where the job ran and back. */
  waitMs: number;
  /** Running where the job ran (a worker, or this thread). */
  renderMs: number;
  /** Of that, in runs of the networks. */
  inferenceMs: number;
}

/**
 * Jobs in order, at most `inFlight` handed to the runner at once (a worker
 * runs them one at a time, but with the next one already at hand it does not
 * wait for this thread between jobs), with the expected work it has waiting.
 * Every job's time where it ran goes into the cost model.
 */
class Lane {
  readonly run: LaneRunner;
  readonly inFlight: number;
  readonly #costs: CostModel;
  /** Expected milliseconds of the jobs waiting or running here. */
  pendingMs = 0;
  jobs = 0;
  images = 0;
  /** The last `inFlight` jobs' ends: a new job is handed over when the first of them has ended. */
  readonly #recent: Promise<unknown>[] = [];

  constructor(run: LaneRunner, inFlight: number, costs: CostModel) {
    this.run = run;
    this.inFlight = inFlight;
    this.#costs = costs;
  }

  /**
   * Runs `job` after the lane's earlier jobs; returns its result and its
   * times: its run where it ran, and the rest since it was enqueued (the
   * wait and the hand-over). Rejects with the signal's reason as soon as it
   * aborts. A job given up while it waits leaves the lane's figures at once
   * (admission and `/readyz` stop counting it) and never runs; one given up
   * while it runs is counted until it has stopped where it runs, since the
   * lane's next jobs wait for that.
   */
  enqueue(job: PictureJob, estimate: number, signal: AbortSignal): Promise<TimedJob> {
    const images = jobImages(job);
    this.pendingMs += estimate;
    this.jobs++;
    this.images += images;
    let counted = true, running = false;
    const uncount = () => {
      if (!counted) return;
      counted = false;
      this.pendingMs -= estimate;
      this.jobs--;
      this.images -= images;
    };
    // One given up while it runs stays counted, its work too: it runs on to its next network run,
    // which for a large batch is most of it, and the jobs behind it wait for that.
    const onAbort = () => {
      if (!running) uncount();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const queued = performance.now();
    const turn = this.#recent.length < this.inFlight ? Promise.resolve() : this.#recent.shift()!;
    const ran = turn.then(async () => {
      signal.throwIfAborted();
      running = true;
      try {
        const rendered = await this.run(job, signal);
        this.#costs.observe(job, rendered.renderMs);
        return { ...rendered, waitMs: performance.now() - queued - rendered.renderMs };
      } catch (error) {
        if (error instanceof JobGivenUpError) this.#costs.observeAtLeast(job, error.renderMs);
        throw error;
      }
    }).finally(() => {
      signal.removeEventListener("abort", onAbort);
      uncount();
    });
    this.#recent.push(ran.catch(() => {}));
    return untilAborted(ran, signal);
  }
}

/** A job's result and where its time went ({@link JobTiming}). */
type TimedJob = RenderedJob & { waitMs: number };

/** What `/readyz` reports of the renderer (its schema documents the route too). */
export const RendererLoadSchema = z.object({
  lanes: z.number().int().describe("render lanes: one per worker, or one in the serving thread"),
  lanesUp: z.number().int().describe(
    "lanes that can draw now (a worker being started again after a crash cannot); none is " +
      "overloaded",
  ),
  jobs: z.number().int().describe("picture jobs waiting or running"),
  expectedWaitMs: z.number().describe("expected wait of a new job on the least loaded lane, in ms"),
  overloaded: z.boolean().describe(
    "whether even the smallest job (one work unit of the cheapest kind) would be refused now",
  ),
  msPerUnit: z.record(z.string(), z.number()).describe(
    "measured milliseconds per work unit, by job kind",
  ),
});

/** What `/readyz` reports of the renderer. */
export type RendererLoad = z.infer<typeof RendererLoadSchema>;

/** Lanes, admission and cost estimates; see the module notes. */
export class Renderer {
  readonly #lanes: Lane[];
  readonly #costs: CostModel;
  readonly #timeoutMs: number;
  readonly #maxQueuedImages: number;
  readonly #close: () => Promise<void>;
  readonly #laneUp: (lane: number) => boolean;
  readonly #timings = new WeakMap<AbortSignal, JobTiming>();

  /**
   * Lanes of `runners`, each handed at most `inFlightPerLane` jobs at once
   * (default 1); a job is refused when its expected wait and cost pass
   * `timeoutMs`, or (a memory bound) when more than `maxQueuedImages` images
   * would be waiting in all. `laneUp` says whether a lane can draw now (by
   * default every lane can): jobs go to lanes that can, and with none they
   * are refused at once.
   */
  constructor(
    runners: LaneRunner[],
    costs: CostModel,
    limits: {
      timeoutMs: number;
      maxQueuedImages: number;
      inFlightPerLane?: number;
      laneUp?: (lane: number) => boolean;
    },
    close: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.#lanes = runners.map((run) => new Lane(run, limits.inFlightPerLane ?? 1, costs));
    this.#costs = costs;
    this.#timeoutMs = limits.timeoutMs;
    this.#maxQueuedImages = limits.maxQueuedImages;
    this.#laneUp = limits.laneUp ?? (() => true);
    this.#close = close;
  }

  /**
   * Runs `job` on the least loaded lane; throws {@link OverloadError} at once
   * when its expected wait and cost exceed the time limit, and
   * {@link TooMuchWorkError} when its measured cost alone does.
   */
  async run(job: PictureJob, signal: AbortSignal): Promise<JobResult> {
    const waiting = this.#lanes.reduce((n, l) => n + l.images, 0);
    if (waiting > 0 && waiting + jobImages(job) > this.#maxQueuedImages) {
      throw new QueueFullError(
        `the server holds ${waiting} images waiting to be drawn (at most ${this.#maxQueuedImages}).`,
      );
    }
    const lane = this.#leastLoaded();
    if (!lane) {
      throw new OverloadError(
        "no render worker can draw now: each is being started again after it stopped; try " +
          "again in 1 s.",
        1,
      );
    }
    const estimate = this.#costs.estimate(job);
    const known = this.#costs.knownCost(job);
    if (known > this.#timeoutMs * (1 - READING_SHARE)) {
      throw new TooMuchWorkError(
        `this request needs about ${Math.round(known)} ms of drawing, which with reading and ` +
          `answering it passes this server's ${this.#timeoutMs} ms limit: ask for fewer ` +
          "refinement or fitting steps, fewer images or smaller pictures.",
      );
    }
    // A lane with nothing waiting always takes a job: a first measurement must be possible.
    if (lane.jobs > 0 && lane.pendingMs + estimate > this.#timeoutMs) {
      const retry = Math.max(1, Math.ceil(lane.pendingMs / 1000));
      const waiting = `the server has ${Math.round(lane.pendingMs)} ms of work waiting per worker`;
      const needs = this.#costs.measured(job)
        ? `about ${Math.round(estimate)} ms`
        : `about ${Math.round(estimate)} ms (a guess: none of its kind has been drawn yet)`;
      throw new OverloadError(
        `${waiting} and this request needs ${needs}, over the ${this.#timeoutMs} ms limit; ` +
          `try again in ${retry} s.`,
        retry,
      );
    }
    const { result, waitMs, renderMs, inferenceMs } = await lane.enqueue(job, estimate, signal);
    const timing = this.#timings.get(signal) ?? { waitMs: 0, renderMs: 0, inferenceMs: 0 };
    this.#timings.set(signal, {
      waitMs: timing.waitMs + waitMs,
      renderMs: timing.renderMs + renderMs,
      inferenceMs: timing.inferenceMs + inferenceMs,
    });
    return result;
  }

  /** The timing of the jobs run for the request of `signal` (undefined if none finished). */
  timingOf(signal: AbortSignal): JobTiming | undefined {
    return this.#timings.get(signal);
  }

  /** Load figures for `/readyz`. */
  load(): RendererLoad {
    const lane = this.#leastLoaded();
    return {
      lanes: this.#lanes.length,
      lanesUp: this.#lanes.filter((_, k) => this.#laneUp(k)).length,
      jobs: this.#lanes.reduce((n, l) => n + l.jobs, 0),
      expectedWaitMs: Math.round(lane?.pendingMs ?? 0),
      overloaded: !lane ||
        (lane.jobs > 0 && lane.pendingMs + this.#costs.smallestMs() > this.#timeoutMs),
      msPerUnit: this.#costs.snapshot(),
    };
  }

  /**
   * Stops the lanes' workers; a renderer that draws in this thread has
   * nothing of its own (its model's owner releases the model).
   */
  close(): Promise<void> {
    return this.#close();
  }

  /** The lane that can draw with the least work waiting; undefined when none can. */
  #leastLoaded(): Lane | undefined {
    return this.#lanes.filter((_, k) => this.#laneUp(k))
      .reduce<Lane | undefined>(
        (best, l) => (!best || l.pendingMs < best.pendingMs ? l : best),
        undefined,
      );
  }
}

/** A renderer of one lane that draws in this thread with `model`. */
export function localRenderer(model: ServedModel, timeoutMs: number): Renderer {
  const { manifest } = model;
  return new Renderer(
    [(job, signal) => renderTimedJob(model, job, signal)],
    new CostModel(manifest.resolution, manifest.target.channels),
    { timeoutMs, maxQueuedImages: model.maxQueuedImages },
  );
}
