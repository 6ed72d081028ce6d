/**
 * The Hono app: the routes of `images.ts`, `maps.ts`, `swap.ts`,
 * `encode.ts`, `refine.ts` and `meta.ts`, `/openapi.json` and `/docs` generated from the same specs, and
 * the cross-cutting behaviour:
 *
 * - every error is an `application/problem+json` answer (unknown routes 404,
 *   other methods 405, bad input 400, 401, 413, 415, a model without an
 *   encoder 501; a body still arriving at
 *   the time limit 408; a request whose measured cost alone is over the time
 *   limit 422; a request whose expected wait is over the time limit,
 *   a full queue, or a request over its time limit 503 with Retry-After); a
 *   client that goes away is one log line;
 * - a per-request time limit that also cancels queued inference;
 * - a `Server-Timing` header on answers that drew pictures: `queue` (waiting
 *   for a render lane), `render` (drawing, where it ran) and `inference` (of
 *   that, the networks' runs), in milliseconds;
 * - optional CORS origins and API key;
 * - nothing is written to disk, so the app runs on edge runtimes.
 *
 * @module
 */

import { registerStudio, STUDIO_PATHS } from "./studio.ts";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import type { ServedModel } from "../model/model.ts";
import {
  localRenderer,
  OverloadError,
  type Renderer,
  TooMuchWorkError,
} from "../model/renderer.ts";
import { WorkerStoppedError } from "../model/worker_pool.ts";
import { QueueFullError } from "../model/scheduler.ts";
import { untilAborted } from "../core/until_aborted.ts";
import type { ServerConfig } from "./config.ts";
import { docsPage } from "./docs.ts";
import { imageRoutes } from "./images.ts";
import { mapRoutes } from "./maps.ts";
import { metaRoutes } from "./meta.ts";
import type { InFlight } from "./in_flight.ts";
import { HttpProblem, invalidField, type ProblemKind, problemResponse } from "./problem.ts";
import type { Limits } from "./schemas.ts";
import { openApiDocument } from "./openapi.ts";
import { matchesPath } from "./paths.ts";
import { registerRoutes } from "./register.ts";
import type { AppEnv, RouteSpec } from "./route.ts";
import { swapRoutes } from "./swap.ts";
import { encodeRoutes } from "./encode.ts";
import { refineRoutes } from "./refine.ts";
import { ImageDecodeError } from "../core/image.ts";
import { NoEncoderError, NoGradientsError } from "../model/sessions.ts";
import { ClientGoneError } from "./validation.ts";

/** The pages beside the API (GET only): its description, its docs and the studio. */
const PAGE_PATHS = ["/openapi.json", "/docs", ...STUDIO_PATHS];

/**
 * What the app needs: the loaded model (its manifest and concept names), the
 * renderer that draws (default: in this thread), and the configuration.
 */
export interface AppOptions {
  model: ServedModel;
  renderer?: Renderer;
  config: Pick<
    ServerConfig,
    | "maxBatch"
    | "maxImageSize"
    | "maxBodyBytes"
    | "maxPhotoPixels"
    | "timeoutMs"
    | "corsOrigins"
    | "apiKey"
  >;
  /** Counts the requests in flight, so that a stopping server lets them finish. */
  inFlight?: InFlight;
  /** Told of each request refused for lack of capacity (503, 422 too-much-work), by problem slug. */
  onRefusal?: (kind: ProblemKind) => void;
}

/** Compares two strings in time independent of where they differ. */
function sameSecret(a: string, b: string): boolean {
  const [x, y] = [new TextEncoder().encode(a), new TextEncoder().encode(b)];
  let diff = x.length ^ y.length;
  for (let k = 0; k < Math.max(x.length, y.length); k++) diff |= (x[k] ?? 0) ^ (y[k] ?? 0);
  return diff === 0;
}

/**
 * The HTML pages' policy (the studio and /docs): their own scripts and
 * styles (the studio's inline style sheet), onnxruntime-web's wasm and
 * workers, pictures from this server or the page's own blobs; nothing from
 * elsewhere, no framing (a page that asks for the API key must not be
 * framed by another site).
 */
const PAGE_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
  "form-action 'self'",
].join("; ");

/** Builds the app for `options.model`. */
export function createApp(options: AppOptions): Hono<AppEnv> {
  const { model, config } = options;
  const { manifest } = model;
  const renderer = options.renderer ?? localRenderer(model, config.timeoutMs);
  const limits: Limits = {
    maxBatch: Math.min(config.maxBatch, model.maxBatch),
    maxImageSize: config.maxImageSize,
    latent: manifest.latent,
    channels: manifest.target.channels,
    resolution: manifest.resolution,
    maxPhotoPixels: config.maxPhotoPixels,
  };
  const specs: RouteSpec[] = [
    ...metaRoutes(model, renderer, limits),
    ...imageRoutes(renderer, limits),
    ...mapRoutes(model, renderer, limits),
    ...swapRoutes(model, renderer, limits),
    ...encodeRoutes(model, renderer, limits),
    ...refineRoutes(model, renderer, limits),
  ];
  const document = openApiDocument(specs, {
    title: "interpretable-gan",
    version: manifest.model.version,
    description: `${manifest.model.name}: ${manifest.model.description} Images, per-kernel ` +
      "feature maps of the target layer, and concept swaps between images.",
  }, config.apiKey !== null);

  const app = new Hono<AppEnv>();
  app.onError((error, c) => {
    // When the time limit (or the client's leaving) answers first, the handler still fails
    // later, through this handler again: that request is answered and logged already.
    if (c.get("answered")) return c.res;
    c.set("answered", true);
    const path = c.req.path;
    const refused = (problem: HttpProblem) => {
      options.onRefusal?.(problem.kind);
      return problemResponse(problem, path);
    };
    // Work refused for now: a 503 saying when to send it again.
    const unavailable = (detail: string, retryAfterSeconds: number) =>
      refused(
        new HttpProblem("unavailable", detail, {
          headers: { "retry-after": String(retryAfterSeconds) },
        }),
      );
    if (error instanceof HttpProblem) return problemResponse(error, path);
    if (error instanceof OverloadError) return unavailable(error.message, error.retryAfterSeconds);
    if (error instanceof TooMuchWorkError) {
      return refused(new HttpProblem("too-much-work", error.message));
    }
    if (error instanceof ImageDecodeError) {
      const problem = invalidField(
        error.field === undefined ? "body" : `${error.field}.image`,
        `cannot be decoded: ${error.message}`,
      );
      return problemResponse(problem, path);
    }
    if (error instanceof NoEncoderError) {
      return problemResponse(new HttpProblem("encoding-unavailable", error.message), path);
    }
    if (error instanceof NoGradientsError) {
      return problemResponse(new HttpProblem("gradients-unavailable", error.message), path);
    }
    if (error instanceof WorkerStoppedError) {
      return unavailable(
        "the render worker drawing this request stopped and is being started again; send the " +
          "request again.",
        1,
      );
    }
    if (error instanceof QueueFullError) {
      return unavailable(`${error.message} Try again shortly.`, 1);
    }
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    // A failure while the body arrives, or after the client's signal aborted, is the client leaving.
    const clientGone = error instanceof ClientGoneError ||
      (!timedOut && (c.get("readingBody") || c.req.raw.signal.aborted));
    if (clientGone) {
      // Nobody reads the answer: one line for the log, no stack.
      const why = error instanceof ClientGoneError
        ? error.message
        : "the client closed the connection";
      console.error(`client went away: ${c.req.method} ${path}: ${why}`);
      return problemResponse(new HttpProblem("request-timeout", why), path);
    }
    if (timedOut) {
      if (c.get("readingBody")) {
        return problemResponse(
          new HttpProblem(
            "request-timeout",
            `the request body did not arrive within ${config.timeoutMs} ms; send it at once.`,
          ),
          path,
        );
      }
      return refused(
        new HttpProblem("timeout", `the request did not finish within ${config.timeoutMs} ms.`, {
          headers: { "retry-after": "1" },
        }),
      );
    }
    console.error(`error on ${c.req.method} ${path}:`, error);
    return problemResponse(
      new HttpProblem("internal", "the server failed; it has been logged."),
      path,
    );
  });
  app.notFound((c) => {
    // The path as routed, not as `URL` normalises it: /v1/./model reached no route, so no
    // method is allowed there.
    const path = c.req.path;
    const methods = [
      ...specs.filter((s) => matchesPath(s.path, path)).map((s) => s.method.toUpperCase()),
      ...(PAGE_PATHS.some((p) => matchesPath(p, path)) ? ["GET"] : []),
    ];
    // Every GET route answers HEAD too.
    const allowed = [...new Set(methods.flatMap((m) => m === "GET" ? ["GET", "HEAD"] : [m]))];
    if (allowed.length > 0) {
      return problemResponse(
        new HttpProblem(
          "method-not-allowed",
          `${c.req.method} is not allowed here; use ${allowed.join(" or ")}.`,
          {
            headers: { allow: allowed.join(", ") },
          },
        ),
        path,
      );
    }
    return problemResponse(
      new HttpProblem("not-found", `there is no ${path}; see /docs for the endpoints.`),
      path,
    );
  });

  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("x-content-type-options", "nosniff");
    if (c.res.headers.get("content-type")?.startsWith("text/html")) {
      c.res.headers.set("content-security-policy", PAGE_POLICY);
      c.res.headers.set("referrer-policy", "no-referrer");
    }
  });
  // Hono answers HEAD with its GET's headers and no body, which Deno then sends as content-length
  // 0; HEAD should tell the GET's length.
  app.use("*", async (c, next) => {
    await next();
    if (c.req.method !== "HEAD" || !c.res.body || c.res.headers.has("content-length")) return;
    c.res.headers.set("content-length", String((await c.res.clone().arrayBuffer()).byteLength));
  });
  if (config.corsOrigins.length > 0) {
    app.use(
      "*",
      cors({
        origin: config.corsOrigins.includes("*") ? "*" : config.corsOrigins,
        allowMethods: ["GET", "HEAD", "POST"],
        allowHeaders: ["Content-Type", "Authorization", "X-API-Key", "If-None-Match"],
        exposeHeaders: ["ETag", "Retry-After", "Server-Timing"],
        maxAge: 86400,
      }),
    );
  }
  // After CORS, so that a stopping server's 503 carries its headers.
  if (options.inFlight) app.use("*", options.inFlight.middleware);
  if (config.apiKey) {
    const key = config.apiKey;
    app.use("/v1/*", async (c, next) => {
      // An empty X-API-Key counts as none, so that a Bearer key beside it is read.
      const given = c.req.header("x-api-key") ||
        /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
      if (given === undefined || !sameSecret(given, key)) {
        throw new HttpProblem(
          "unauthorized",
          "send the API key as Authorization: Bearer <key> or X-API-Key: <key>.",
          { headers: { "www-authenticate": "Bearer" } },
        );
      }
      await next();
      // Answers to a key are the key holder's: no shared cache keeps them (RFC 9111 3.5 names
      // only Authorization, not X-API-Key). Immutable pictures already say private.
      if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "private");
    });
  }
  app.use("*", async (c, next) => {
    const signal = AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(config.timeoutMs)]);
    c.set("signal", signal);
    c.set("readingBody", c.req.raw.body !== null);
    // Whatever the handler awaits, the answer comes by the time limit.
    await untilAborted(next(), signal);
  });
  app.use("*", async (c, next) => {
    // Bodies are read as sent: a compressed one would fail as bad JSON or a bad photo.
    const encoding = c.req.header("content-encoding")?.trim().toLowerCase();
    if (c.req.raw.body !== null && encoding && encoding !== "identity") {
      throw new HttpProblem(
        "unsupported-media-type",
        `the body is sent with content-encoding ${encoding}; send it uncompressed.`,
      );
    }
    await next();
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: config.maxBodyBytes,
      onError: () => {
        // A photo straight from a phone (3-5 MB) is the common case: say what fits.
        throw new HttpProblem(
          "body-too-large",
          `the body is over the limit of ${config.maxBodyBytes} bytes (IGAN_MAX_BODY_BYTES); a photo ` +
            "must be sent smaller: a JPEG of at most about 1024 px on a side fits.",
        );
      },
    }),
  );

  registerRoutes(app, specs, {
    contentId: model.contentId,
    maxPhotoPixels: config.maxPhotoPixels,
    timingOf: (signal) => renderer.timingOf(signal),
    behindKey: config.apiKey !== null,
  });
  app.get("/openapi.json", (c) => c.json(document));
  app.get("/docs", (c) => c.html(docsPage(document)));
  registerStudio(app);
  return app;
}
