/**
 * Registers route specs on the Hono app: path parameters, query and body
 * validated (`validation.ts`; photo uploads by `photos.ts`), immutable GETs cached (`etag.ts`), then the
 * handler, whose answer gets the timing of the pictures it drew (`Server-Timing`).
 *
 * @module
 */

import type { Hono } from "hono";
import { z } from "zod";
import type { JobTiming } from "../model/renderer.ts";
import { etagMatches, immutableCacheControl, immutableEtag } from "./etag.ts";
import { honoPath, parsePath, pathParams } from "./paths.ts";
import type { AppEnv, RouteSpec } from "./route.ts";
import { parseWith, queryObject, readJsonBody } from "./validation.ts";
import { readPhotoUpload } from "./photos.ts";

/** The query of a route that takes no parameters. */
const NO_QUERY = z.strictObject({});

/** How registration reaches the app's shared services. */
export interface RegisterOptions {
  /** An id of what immutable responses depend on besides the URL (the model's content). */
  contentId: string;
  /** Most pixels of an uploaded photo. */
  maxPhotoPixels: number;
  /** The timing of the picture jobs run for a request's signal, if any ran. */
  timingOf: (signal: AbortSignal) => JobTiming | undefined;
  /** Whether an API key guards the API (its responses are then cached privately only). */
  behindKey: boolean;
}

/** A `Server-Timing` header value of `timing` (durations in milliseconds). */
export function serverTiming(timing: JobTiming): string {
  const entry = (name: string, ms: number) => `${name};dur=${ms.toFixed(2)}`;
  return [
    entry("queue", timing.waitMs),
    entry("render", timing.renderMs),
    entry("inference", timing.inferenceMs),
  ].join(", ");
}

/** Registers `specs` on `app`. */
export function registerRoutes(
  app: Hono<AppEnv>,
  specs: readonly RouteSpec[],
  options: RegisterOptions,
): void {
  const cacheControl = immutableCacheControl(options.behindKey);
  for (const spec of specs) {
    const segments = parsePath(spec.path);
    app.on(spec.method.toUpperCase(), honoPath(spec.path), async (c) => {
      const params = parseWith(
        spec.params,
        "path",
        pathParams(segments, (name) => c.req.param(name)),
      );
      // A route without query parameters refuses any, as the others refuse unknown ones.
      const query = parseWith(spec.query ?? NO_QUERY, "query", queryObject(c));
      const etag = spec.immutable
        ? immutableEtag(options.contentId, new URL(c.req.url))
        : undefined;
      const notModified = () =>
        new Response(null, {
          status: 304,
          headers: { etag: etag!, "cache-control": cacheControl },
        });
      // A named ETag was given for a response of this URL, so it is valid: no inference needed.
      if (etag && etagMatches(c.req.header("if-none-match"), etag)) return notModified();
      const body = spec.body ? parseWith(spec.body, "body", await readJsonBody(c)) : undefined;
      const photo = spec.upload ? await readPhotoUpload(c, options.maxPhotoPixels) : undefined;
      const signal = c.get("signal");
      const headers = c.req.raw.headers;
      const response = await spec.handler({ params, query, body, photo, signal, headers });
      const timing = options.timingOf(signal);
      if (timing) response.headers.set("server-timing", serverTiming(timing));
      if (etag && response.ok) {
        // `*` asks whether the picture exists: known only now that it was drawn.
        if (etagMatches(c.req.header("if-none-match"), etag, true)) return notModified();
        response.headers.set("etag", etag);
        response.headers.set("cache-control", cacheControl);
      }
      return response;
    });
  }
}
