/**
 * Routes as data: each {@link RouteSpec} names its method, OpenAPI path,
 * zod schemas for path, query and body, responses and handler. The same
 * spec registers the Hono route (which validates requests with the schemas)
 * and generates the route's part of `/openapi.json`, so the documentation
 * cannot drift from what is enforced.
 *
 * Paths are written in OpenAPI form. A parameter may carry a file
 * extension inside its segment (`/v1/images/{seed}.png`); Hono cannot
 * express that, so the segment is matched as a whole and the extension is
 * stripped before validation.
 *
 * @module
 */

import type { Context, Hono } from "hono";
import { z } from "zod";
import { sha256Hex } from "../model/bundle.ts";
import { type FieldError, HttpProblem, invalidField } from "./problem.ts";

/** A response a route may give. */
export interface ResponseSpec {
  description: string;
  /** Content type; JSON responses may give a schema. */
  contentType?: string;
  schema?: z.ZodType;
}

/** The response of a request that fails (see `problem.ts`). */
export const PROBLEM_RESPONSE: ResponseSpec = {
  description: "a problem (RFC 9457): what is wrong, and with which fields",
  contentType: "application/problem+json",
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
  /** Aborted when the request's time limit passes or its client goes away. */
  signal: AbortSignal;
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
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
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

/** The app's per-request variables: `signal` aborts at the request's time limit. */
export type AppEnv = { Variables: { signal: AbortSignal } };

/** How registration reaches the app's shared services. */
export interface RegisterOptions {
  /** An id of what immutable responses depend on besides the URL (the model's content). */
  contentId: string;
}

interface PathSegment {
  /** Literal text, or a parameter name. */
  text: string;
  param: boolean;
  /** A file extension that follows the parameter inside the segment (".png"). */
  extension: string;
}

function parsePath(path: string): PathSegment[] {
  return path.split("/").slice(1).map((segment) => {
    const match = /^\{(\w+)\}(\.\w+)?$/.exec(segment);
    return match
      ? { text: match[1], param: true, extension: match[2] ?? "" }
      : { text: segment, param: false, extension: "" };
  });
}

/** The Hono path of an OpenAPI path. */
function honoPath(path: string): string {
  return "/" +
    parsePath(path).map((s) =>
      !s.param ? s.text : s.extension ? `:${s.text}{[^/]+\\${s.extension}}` : `:${s.text}`
    ).join("/");
}

/** Whether `pathname` matches the OpenAPI path `path` (for 405 answers). */
export function matchesPath(path: string, pathname: string): boolean {
  const segments = parsePath(path), parts = pathname.split("/").slice(1);
  return segments.length === parts.length &&
    segments.every((s, k) =>
      s.param
        ? parts[k].length > s.extension.length && parts[k].endsWith(s.extension)
        : parts[k] === s.text
    );
}

/** The field errors of a failed zod parse, under `prefix` (`path`, `query`, `body`). */
function fieldErrors(prefix: string, error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => {
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [undefined];
    return keys.map((key) => ({
      field: [prefix, ...issue.path.map(String), ...(key ? [key] : [])].join("."),
      message: issue.code === "unrecognized_keys" ? "is not a known parameter" : issue.message,
    }));
  }).flat();
}

function parseWith<T extends z.ZodType>(schema: T | undefined, prefix: string, value: unknown) {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) {
    const errors = fieldErrors(prefix, result.error);
    throw new HttpProblem(
      "invalid-request",
      errors.map((e) => `${e.field}: ${e.message}`).join("; "),
      { errors },
    );
  }
  return result.data;
}

function queryObject(c: Context<AppEnv>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, values] of Object.entries(c.req.queries())) {
    if (values.length > 1) throw invalidField(`query.${key}`, `is given ${values.length} times`);
    out[key] = values[0];
  }
  return out;
}

async function readJsonBody(c: Context<AppEnv>): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(type)) {
    throw new HttpProblem(
      "unsupported-media-type",
      `the body is sent as "${
        type || "(no content type)"
      }"; send JSON with content-type application/json.`,
    );
  }
  // The app's body-limit middleware has already refused bodies over the limit.
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpProblem(
      "invalid-request",
      `the body is not valid JSON: ${(error as Error).message}`,
      {
        errors: [{ field: "body", message: "is not valid JSON" }],
      },
    );
  }
}

/** A strong ETag for an immutable response: the model's content and the canonical URL. */
function immutableEtag(contentId: string, url: URL): string {
  const query = [...url.searchParams.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `"${
    sha256Hex(`${contentId}\n${url.pathname}\n${new URLSearchParams(query)}`).slice(0, 32)
  }"`;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").map((t) => t.trim()).some((t) => t === "*" || t === etag);
}

/** Cache-Control of immutable responses: one year, never revalidated. */
const IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable";

/** Registers `specs` on `app`. */
export function registerRoutes(
  app: Hono<AppEnv>,
  specs: readonly RouteSpec[],
  options: RegisterOptions,
): void {
  for (const spec of specs) {
    const segments = parsePath(spec.path);
    app.on(spec.method.toUpperCase(), honoPath(spec.path), async (c) => {
      const raw: Record<string, string> = {};
      for (const s of segments.filter((s) => s.param)) {
        const value = c.req.param(s.text) ?? "";
        raw[s.text] = s.extension ? value.slice(0, -s.extension.length) : value;
      }
      const params = parseWith(spec.params, "path", raw);
      const query = parseWith(spec.query, "query", queryObject(c));
      let etag: string | undefined;
      if (spec.immutable) {
        etag = immutableEtag(options.contentId, new URL(c.req.url));
        if (etagMatches(c.req.header("if-none-match"), etag)) {
          return new Response(null, {
            status: 304,
            headers: { etag, "cache-control": IMMUTABLE_CACHE_CONTROL },
          });
        }
      }
      const body = spec.body ? parseWith(spec.body, "body", await readJsonBody(c)) : undefined;
      const response = await spec.handler({ params, query, body, signal: c.get("signal") });
      if (etag) {
        response.headers.set("etag", etag);
        response.headers.set("cache-control", IMMUTABLE_CACHE_CONTROL);
      }
      return response;
    });
  }
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
  return rest;
}

function parameters(schema: z.ZodType | undefined, location: "path" | "query") {
  if (!schema) return [];
  const object = jsonSchema(schema) as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(object.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: location,
      required: location === "path" || (object.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

/** The OpenAPI 3.1 document of `specs`. */
export function openApiDocument(
  specs: readonly RouteSpec[],
  info: { title: string; version: string; description: string },
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of specs) {
    const responses = Object.fromEntries(
      Object.entries(spec.responses).map(([status, r]) => [status, {
        description: r.description,
        ...(r.contentType
          ? { content: { [r.contentType]: r.schema ? { schema: jsonSchema(r.schema) } : {} } }
          : {}),
      }]),
    );
    paths[spec.path] ??= {};
    paths[spec.path][spec.method] = {
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      tags: [spec.tag],
      parameters: [...parameters(spec.params, "path"), ...parameters(spec.query, "query")],
      ...(spec.body
        ? {
          requestBody: {
            required: true,
            content: { "application/json": { schema: jsonSchema(spec.body) } },
          },
        }
        : {}),
      responses,
    };
  }
  return { openapi: "3.1.0", info, paths };
}
