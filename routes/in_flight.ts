/**
 * Requests in flight, so that a stopping server finishes them: once
 * {@link InFlight.stop} is called, new requests are refused with a 503
 * `stopping` problem while those already taken run to their answers.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { HttpProblem } from "./problem.ts";

/** Counts the requests being answered and drains them on stop. */
export class InFlight {
  #count = 0;
  #stopping = false;
  #drained: (() => void)[] = [];

  /** Requests taken and not yet answered. */
  get count(): number {
    return this.#count;
  }

  /** Whether {@link stop} has been called. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** The middleware that counts every request, or refuses it once stopping. */
  readonly middleware: MiddlewareHandler = async (_c, next) => {
    if (this.#stopping) {
      throw new HttpProblem("stopping", "the server is stopping; send the request again.", {
        headers: { "retry-after": "1", connection: "close" },
      });
    }
    this.#count++;
    try {
      await next();
    } finally {
      this.#count--;
      if (this.#count === 0) this.#drained.splice(0).forEach((resolve) => resolve());
    }
  };

  /** Refuses new requests from now on; resolves once none is in flight. */
  stop(): Promise<void> {
    this.#stopping = true;
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }
}
