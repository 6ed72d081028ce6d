/**
 * The OpenAPI 3.1 document of the route specs, from the same zod schemas
 * that validate the requests.
 *
 * @module
 */

import { z } from "zod";
import type { RouteSpec } from "./route.ts";
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
    };
  }
  return { openapi: "3.1.0", info, paths };
}
