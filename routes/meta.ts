/**
 * The model's manifest and the health probes.
 *
 * @module
 */

import { z } from "zod";
import { ManifestSchema } from "../model/manifest.ts";
import type { ServedModel } from "../model/model.ts";
import { type Renderer, RendererLoadSchema } from "../model/renderer.ts";
import type { Limits } from "./schemas.ts";
import { HttpProblem } from "./problem.ts";
import { defineRoute, PROBLEM_RESPONSE, type RouteSpec } from "./route.ts";

/** The meta routes. */
export function metaRoutes(model: ServedModel, renderer: Renderer, limits: Limits): RouteSpec[] {
  const limitsSchema = z.object({
    maxBatch: z.number().int(),
    maxImageSize: z.number().int(),
  });
  const readiness = z.object({
    status: z.enum(["ready", "overloaded"]),
    model: ManifestSchema.shape.model,
    load: RendererLoadSchema,
  });
  return [
    defineRoute({
      method: "get",
      path: "/v1/model",
      operationId: "getModel",
      tag: "model",
      summary: "The served model: resolution, latent size, target layer and concept groups",
      description: "The bundle's manifest (groups with ids, labels, colours and member kernels; " +
        "how the model was trained and measured) and this server's request limits.",
      responses: {
        200: {
          description: "the manifest",
          contentType: "application/json",
          schema: ManifestSchema.extend({ limits: limitsSchema }),
        },
      },
      handler: () =>
        Response.json({
          ...model.manifest,
          limits: { maxBatch: limits.maxBatch, maxImageSize: limits.maxImageSize },
        }),
    }),
    defineRoute({
      method: "get",
      path: "/v1/model/{part}.onnx",
      operationId: "getModelPart",
      tag: "model",
      summary: "The generator's head or tail as ONNX, to run in a client",
      description: "head: z [N, Z] -> target-layer maps [N, M, H, W]; tail: maps -> image " +
        "[N, 3, S, S] in [-1, 1]; each whole in one file (weights usually stored in half " +
        "precision and cast to f32 by the graph). Their SHA-256 are the manifest's `files`. The " +
        "studio's in-browser mode runs them with onnxruntime-web.",
      params: z.object({ part: z.enum(["head", "tail"]).describe("which half") }),
      immutable: true,
      responses: {
        200: { description: "the ONNX model", contentType: "application/octet-stream" },
        304: { description: "not modified" },
        400: PROBLEM_RESPONSE,
        404: PROBLEM_RESPONSE,
      },
      handler: ({ params }) => {
        if (!model.files) {
          throw new HttpProblem("not-found", "this server's model has no ONNX files to send.");
        }
        return new Response(model.files[params.part] as BodyInit, {
          headers: { "content-type": "application/octet-stream" },
        });
      },
    }),
    defineRoute({
      method: "get",
      path: "/healthz",
      operationId: "getHealth",
      tag: "operations",
      summary: "Liveness: the process answers",
      responses: {
        200: {
          description: "alive",
          contentType: "application/json",
          schema: z.object({ status: z.literal("ok") }),
        },
        400: { ...PROBLEM_RESPONSE, description: "a query parameter, which it takes none of" },
      },
      handler: () => Response.json({ status: "ok" }),
    }),
    defineRoute({
      method: "get",
      path: "/readyz",
      operationId: "getReadiness",
      tag: "operations",
      summary: "Readiness: the model is loaded and new work would be served within the time limit",
      description: "`load` gives the render lanes (workers), the jobs they hold, the expected " +
        "wait of a new job and the measured milliseconds per work unit by job kind.",
      responses: {
        200: { description: "ready", contentType: "application/json", schema: readiness },
        400: { ...PROBLEM_RESPONSE, description: "a query parameter, which it takes none of" },
        503: {
          description: "overloaded: new work would wait past the time limit (this JSON); or " +
            "stopping (a problem, with Retry-After)",
          contentType: "application/json",
          schema: readiness,
          otherContentType: "application/problem+json",
        },
      },
      handler: () => {
        const load = renderer.load();
        return Response.json(
          { status: load.overloaded ? "overloaded" : "ready", model: model.manifest.model, load },
          { status: load.overloaded ? 503 : 200 },
        );
      },
    }),
  ];
}
