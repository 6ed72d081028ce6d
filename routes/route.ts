/**
 * Routes as data: each {@link RouteSpec} names its method, OpenAPI path,
 * zod schemas for path, query and body, responses and handler. The same
 * spec registers the Hono route (`register.ts`, which validates requests
 * with the schemas) and generates the route's part of `/openapi.json`
 * (`openapi.ts`), so the documentation cannot drift from what is enforced.
 *
 * @module
 */

import type { z } from "zod";
import { ProblemSchema } from "./problem.ts";

/** A response header, as the OpenAPI document describes it. */
export interface HeaderSpec {
  description: string;
  schema: Record<string, unknown>;
}

/** A response a route may give. */
export interface ResponseSpec {
  description: string;
  /** Content type; JSON responses may give a schema. */
  contentType?: string;
  schema?: z.ZodType;
  /** Another content type the same status may have (as a single image's PNG), without a schema. */
  otherContentType?: string;
  /** Headers of this response besides those every response of its kind has (see `openapi.ts`). */
  headers?: Record<string, HeaderSpec>;
}

/** The response of a request that fails (see `problem.ts`). */
export const PROBLEM_RESPONSE: ResponseSpec = {
  description: "a problem (RFC 9457): what is wrong, and with which fields",
  contentType: "application/problem+json",
  schema: ProblemSchema,
};

/** The responses of an immutable GET picture: the PNG, 304, or a problem. */
export const PICTURE_RESPONSES: Record<number, ResponseSpec> = {
  200: { description: "the picture", contentType: "image/png" },
  304: { description: "not modified (If-None-Match)" },
  400: PROBLEM_RESPONSE,
};

/** The validated input of a request. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The checked photo of an {@link RouteSpec.upload} route. */
  photo?: Uint8Array;
  /** Aborted when the request's time limit passes or its client goes away. */
  signal: AbortSignal;
  /** The request's headers (for content negotiation). */
  headers: Headers;
}

/** One endpoint. */
export interface RouteSpec<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: "get" | "post";
  /** OpenAPI path, e.g. `/v1/images/{seed}.png`. */
  path: string;
  /** The operation's name in the OpenAPI document, which generated clients name their methods by. */
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  /**
   * The body is a photo instead of JSON: raw `image/jpeg` or `image/png`, or
   * the `image` file of a `multipart/form-data` body (`photos.ts`).
   */
  upload?: boolean;
  responses: Record<number, ResponseSpec>;
  /**
   * GET responses that depend only on the URL and the model: they get a strong
   * ETag and a long-lived Cache-Control, and `If-None-Match` answers 304
   * before the handler runs.
   */
  immutable?: boolean;
  handler: (
    input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>,
  ) => Promise<Response> | Response;
}

/** Declares a route (a typed identity, so that handlers see their schemas' types). */
export function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  spec: RouteSpec<P, Q, B>,
): RouteSpec {
  return spec as unknown as RouteSpec;
}

/**
 * The app's per-request variables: `signal` aborts at the request's time
 * limit (or when the client goes away); `readingBody` is true while the body
 * is still arriving, so that a time limit then is a 408, not a 503;
 * `answered` is set once the error handler has answered the request.
 */
export type AppEnv = {
  Variables: { signal: AbortSignal; readingBody: boolean; answered: boolean };
};
