/**
 * The OpenAPI 3.1 document of the route specs, from the same zod schemas
 * that validate the requests.
 *
 * @module
 */

import { z } from "zod";
import { PROBLEM_RESPONSE, type ResponseSpec, type RouteSpec } from "./route.ts";
import { PHOTO_TYPES } from "./photos.ts";

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

/**
 * What any API route may answer besides its own responses: a missing or
 * wrong key where the server has one (401), a body still arriving at the
 * time limit (408), a request whose cost alone is over the time limit
 * (422), and admission or the time limit (503).
 */
function commonResponses(spec: RouteSpec, behindKey: boolean): Record<number, ResponseSpec> {
  const common: Record<number, ResponseSpec> = {};
  if (!spec.path.startsWith("/v1/")) return common;
  const problem = (description: string) => ({ ...PROBLEM_RESPONSE, description });
  if (behindKey) common[401] = problem("the API key is missing or wrong");
  if (spec.body || spec.upload) {
    common[408] = problem("the body did not arrive within the time limit");
  }
  common[422] = problem("needs more time than the server's limit: ask for less work");
  common[503] = problem("overloaded or over the time limit: try again after Retry-After seconds");
  return common;
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
      Object.entries(all).map(([status, r]) => [status, {
        description: r.description,
        ...(r.contentType
          ? {
            content: {
              [r.contentType]: r.schema ? { schema: jsonSchema(r.schema) } : {},
              ...(r.otherContentType ? { [r.otherContentType]: {} } : {}),
            },
          }
          : {}),
      }]),
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
    ...(behindKey ? { components: { securitySchemes: API_KEY_SCHEMES } } : { security: [] }),
  };
}
