/**
 * Refused requests in the server's log: a burst of refusals for lack of
 * capacity (503s, 422 too-much-work) makes one line at its start and one a
 * period while it lasts, counting them by kind, rather than a line each.
 *
 * @module
 */

/** Logs refusals, at most one line a period. */
export class RefusalLog {
  readonly #log: (line: string) => void;
  readonly #periodMs: number;
  #counts = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `log` takes each line; `periodMs` is the least time between two. */
  constructor(log: (line: string) => void = console.error, periodMs = 10_000) {
    this.#log = log;
    this.#periodMs = periodMs;
  }

  /** Counts one refusal of `kind` (a problem slug); the first of a burst is logged at once. */
  record(kind: string): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
    if (this.#timer !== undefined) return;
    this.#flush("");
    this.#schedule();
  }

  /** Logs what is still counted and stops the timer. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flush(` in the last ${this.#periodMs / 1000} s or less`);
  }

  #schedule(): void {
    const timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#counts.size === 0) return;
      this.#flush(` in the last ${this.#periodMs / 1000} s`);
      this.#schedule();
    }, this.#periodMs);
    // The log must not keep a stopping process alive.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #flush(when: string): void {
    if (this.#counts.size === 0) return;
    const total = [...this.#counts.values()].reduce((a, b) => a + b, 0);
    const kinds = [...this.#counts].map(([kind, n]) => `${kind} ${n}`).join(", ");
    this.#counts.clear();
    this.#log(`refused ${total} request${total === 1 ? "" : "s"}${when} (${kinds})`);
  }
}
