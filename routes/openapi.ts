/**
 * The OpenAPI 3.1 document of the route specs, from the same zod schemas
 * that validate the requests.
 *
 * @module
 */

import { z } from "zod";
import { type HeaderSpec, PROBLEM_RESPONSE, type ResponseSpec, type RouteSpec } from "./route.ts";
import { PHOTO_TYPES } from "./photos.ts";
import { ProblemSchema } from "./problem.ts";

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
    // A number parsed from the URL's text documents the number (`parameterSchema`), not the text.
    const { description, parameterSchema, ...text } = property;
    const schema = parameterSchema
      ? { ...(parameterSchema as Record<string, unknown>), ...defaultOf(text) }
      : text;
    return {
      name,
      in: location,
      required: location === "path" || (object.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema,
    };
  });
}

/** A schema's `default`, kept when its type is replaced. */
function defaultOf(schema: Record<string, unknown>): Record<string, unknown> {
  return "default" in schema ? { default: schema.default } : {};
}

/** The routes that draw, queueing work for the render workers: every POST, and every picture. */
function draws(spec: RouteSpec): boolean {
  return spec.method === "post" ||
    Object.values(spec.responses).some((r) => r.contentType === "image/png");
}

/**
 * What any route may answer besides its own responses: an invalid request
 * (400; every route refuses query parameters it does not take) and a
 * stopping server (503); on the API's routes a missing or wrong key where
 * the server has one (401) and a body still arriving at the time limit
 * (408); on the routes that draw, a request whose cost alone is over the
 * time limit (422), and admission or the time limit (503).
 */
function commonResponses(spec: RouteSpec, behindKey: boolean): Record<number, ResponseSpec> {
  const problem = (description: string) => ({ ...PROBLEM_RESPONSE, description });
  const common: Record<number, ResponseSpec> = {
    400: problem("the request is invalid"),
    503: problem("the server is stopping: send the request again after Retry-After seconds"),
  };
  if (spec.path.startsWith("/v1/") && behindKey) {
    common[401] = problem("the API key is missing or wrong");
  }
  if (spec.body || spec.upload) {
    common[408] = problem("the body did not arrive within the time limit");
  }
  if (draws(spec)) {
    common[422] = problem("needs more time than the server's limit: ask for less work");
    common[503] = problem(
      "overloaded, over the time limit or stopping: try again after Retry-After seconds",
    );
  }
  return common;
}

/** Headers the server sets on responses of a kind, whichever route gives them. */
const HEADERS = {
  etag: {
    description: "the picture's strong ETag, for If-None-Match",
    schema: { type: "string" },
  },
  cacheControl: {
    description: "public (private behind an API key), for a day: the answer depends only on " +
      "the URL and the model",
    schema: { type: "string" },
  },
  serverTiming: {
    description: "where the time of the pictures drawn went (queue, render, inference; in ms)",
    schema: { type: "string" },
  },
  retryAfter: {
    description: "seconds after which the request may succeed (refusals by admission and the " +
      "time limit)",
    schema: { type: "integer", minimum: 1 },
  },
  wwwAuthenticate: { description: "Bearer", schema: { type: "string" } },
  privateAnswer: {
    description: "private: an answer to a key is the key holder's, kept by no shared cache",
    schema: { type: "string" },
  },
} satisfies Record<string, HeaderSpec>;

/**
 * The headers of `spec`'s response of `status`: its own, and those of its
 * kind (`behindKey`: the server asks for an API key).
 */
function responseHeaders(
  spec: RouteSpec,
  status: number,
  response: ResponseSpec,
  behindKey: boolean,
): Record<string, HeaderSpec> {
  const headers: Record<string, HeaderSpec> = {};
  const api = spec.path.startsWith("/v1/");
  if (spec.immutable && (status === 200 || status === 304)) {
    headers["ETag"] = HEADERS.etag;
    headers["Cache-Control"] = HEADERS.cacheControl;
  } else if (behindKey && api && status === 200) {
    headers["Cache-Control"] = HEADERS.privateAnswer;
  }
  if (status === 200 && api && draws(spec)) headers["Server-Timing"] = HEADERS.serverTiming;
  if (status === 503 && response.schema === ProblemSchema) {
    headers["Retry-After"] = HEADERS.retryAfter;
  }
  if (status === 401) headers["WWW-Authenticate"] = HEADERS.wwwAuthenticate;
  return { ...headers, ...response.headers };
}

/** A response's body schema: problems refer to the one `Problem` of the components. */
function bodySchema(schema: z.ZodType): Record<string, unknown> {
  return schema === ProblemSchema ? { $ref: "#/components/schemas/Problem" } : jsonSchema(schema);
}

/** How a client sends the API key: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
const API_KEY_SCHEMES = {
  bearer: { type: "http", scheme: "bearer" },
  apiKeyHeader: { type: "apiKey", in: "header", name: "X-API-Key" },
};

/** Either scheme will do. */
const API_KEY_SECURITY = [{ bearer: [] }, { apiKeyHeader: [] }];

/** The OpenAPI 3.1 document of `specs`; `behindKey`: the server asks for an API key. */
export function openApiDocument(
  specs: readonly RouteSpec[],
  info: { title: string; version: string; description: string },
  behindKey = false,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of specs) {
    const all = { ...commonResponses(spec, behindKey), ...spec.responses };
    const responses = Object.fromEntries(
      Object.entries(all).map(([status, r]) => {
        const headers = responseHeaders(spec, Number(status), r, behindKey);
        return [status, {
          description: r.description,
          ...(Object.keys(headers).length > 0 ? { headers } : {}),
          ...(r.contentType
            ? {
              content: {
                [r.contentType]: r.schema ? { schema: bodySchema(r.schema) } : {},
                ...(r.otherContentType ? { [r.otherContentType]: {} } : {}),
              },
            }
            : {}),
        }];
      }),
    );
    paths[spec.path] ??= {};
    paths[spec.path][spec.method] = {
      operationId: spec.operationId,
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
      ...(spec.upload
        ? {
          requestBody: {
            required: true,
            content: {
              ...Object.fromEntries(
                PHOTO_TYPES.map((type) => [type, { schema: { type: "string", format: "binary" } }]),
              ),
              "multipart/form-data": {
                schema: {
                  type: "object",
                  properties: { image: { type: "string", format: "binary" } },
                  required: ["image"],
                },
              },
            },
          },
        }
        : {}),
      responses,
      // Behind a key, the API's routes need it; the health checks never do.
      ...(behindKey ? { security: spec.path.startsWith("/v1/") ? API_KEY_SECURITY : [] } : {}),
    };
  }
  return {
    openapi: "3.1.0",
    info,
    // Relative: the document is served by the server it describes.
    servers: [{ url: "/" }],
    paths,
    components: {
      schemas: { Problem: jsonSchema(ProblemSchema) },
      ...(behindKey ? { securitySchemes: API_KEY_SCHEMES } : {}),
    },
    ...(behindKey ? {} : { security: [] }),
  };
}
