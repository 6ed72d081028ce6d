/**
 * Progress of long work: on a terminal one line redrawn in place (bar, rate,
 * ETA and the latest figures); otherwise plain lines, so logs stay readable.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Where progress goes; tests pass their own. */
export interface ProgressSink {
  isTerminal: boolean;
  write(text: string): void;
}

/** Standard error, drawing in place when it is a terminal. */
export function stderrSink(): ProgressSink {
  return {
    isTerminal: Deno.stderr.isTerminal(),
    write: (text) => void Deno.stderr.writeSync(encoder.encode(text)),
  };
}

/** `3723` -> `1h02m`, `75` -> `1m15s`, `9.4` -> `9s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** How often progress is printed where it cannot be redrawn (a pipe, a log file), at most. */
export const PLAIN_LOG_EVERY_MS = 10_000;

/** Where progress goes and how it reads. */
export interface ProgressOptions {
  /** Where lines are written; stderr by default. */
  sink?: ProgressSink;
  /** What is counted ("it" by default). */
  unit?: string;
  /** Off a terminal, the least time between lines; {@link PLAIN_LOG_EVERY_MS} by default. */
  plainEveryMs?: number;
}

/** A progress line for `done` of `total` units. */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #sink: ProgressSink;
  readonly #unit: string;
  readonly #startDone: number;
  readonly #plainEveryMs: number;
  readonly #start = performance.now();
  #drawn = false;
  #lastLogged = performance.now();

  /** Progress from `startDone` (e.g. a resumed step) towards `total`. */
  constructor(
    label: string,
    total: number,
    options: ProgressOptions & { startDone?: number } = {},
  ) {
    this.#label = label;
    this.#total = total;
    this.#sink = options.sink ?? stderrSink();
    this.#unit = options.unit ?? "it";
    this.#startDone = options.startDone ?? 0;
    this.#plainEveryMs = options.plainEveryMs ?? PLAIN_LOG_EVERY_MS;
  }

  /** The progress text for `done` units and extra `figures` (e.g. losses). */
  line(done: number, figures = ""): string {
    const seconds = (performance.now() - this.#start) / 1000;
    const rate = (done - this.#startDone) / Math.max(seconds, 1e-9);
    const eta = rate > 0 ? (this.#total - done) / rate : Infinity;
    const width = 20;
    const filled = Math.round((width * done) / Math.max(this.#total, 1));
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    const rateText = rate >= 1
      ? `${rate.toFixed(2)} ${this.#unit}/s`
      : `${(1 / rate).toFixed(2)} s/${this.#unit}`;
    return `${this.#label} ${done}/${this.#total} [${bar}] ${
      done > this.#startDone ? rateText : "-"
    } ` +
      `ETA ${formatDuration(eta)}${figures ? " " + figures : ""}`;
  }

  /**
   * Redraws the line on a terminal; elsewhere prints it when `log` is true,
   * or, when `log` is not given, at the end and every `plainEveryMs` (a log
   * file gets a line now and then).
   */
  update(done: number, figures = "", log?: boolean): void {
    if (this.#sink.isTerminal) {
      this.#sink.write(`\r\x1b[K${this.line(done, figures)}`);
      this.#drawn = true;
      return;
    }
    const now = performance.now();
    if (log ?? (done >= this.#total || now - this.#lastLogged >= this.#plainEveryMs)) {
      this.#sink.write(this.line(done, figures) + "\n");
      this.#lastLogged = now;
    }
  }

  /** Prints a message above the progress line. */
  message(text: string): void {
    this.#sink.write(this.#drawn ? `\r\x1b[K${text}\n` : `${text}\n`);
    this.#drawn = false;
  }

  /** Ends the in-place line. */
  finish(): void {
    if (this.#drawn) this.#sink.write("\n");
    this.#drawn = false;
  }
}

/**
 * Progress of work in named stages: `update(stage, done, total)` starts a new
 * line when the stage changes; `finish` ends the last one.
 */
export function stagedProgress(
  options: ProgressOptions = {},
): { update: (stage: string, done: number, total: number) => void; finish: () => void } {
  let current: Progress | null = null, stage = "";
  return {
    update: (name, done, total) => {
      if (!current || name !== stage) {
        current?.finish();
        // Its rate counts from this first update, whose work took an unknown time before it.
        [current, stage] = [new Progress(name, total, { ...options, startDone: done }), name];
      }
      current.update(done);
    },
    finish: () => current?.finish(),
  };
}
