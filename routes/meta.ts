/**
 * The model's manifest and the health probes.
 *
 * @module
 */

import { z } from "zod";
import { ManifestSchema } from "../model/manifest.ts";
import type { ServedModel } from "../model/model.ts";
import type { Limits } from "./schemas.ts";
import { defineRoute, type RouteSpec } from "./route.ts";

/** The meta routes. */
export function metaRoutes(model: ServedModel, limits: Limits): RouteSpec[] {
  const limitsSchema = z.object({
    maxBatch: z.number().int(),
    maxImageSize: z.number().int(),
  });
  return [
    defineRoute({
      method: "get",
      path: "/v1/model",
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
      path: "/healthz",
      tag: "operations",
      summary: "Liveness: the process answers",
      responses: { 200: { description: "alive", contentType: "application/json" } },
      handler: () => Response.json({ status: "ok" }),
    }),
    defineRoute({
      method: "get",
      path: "/readyz",
      tag: "operations",
      summary: "Readiness: the model is loaded and the inference queue has room",
      responses: {
        200: { description: "ready", contentType: "application/json" },
        503: { description: "the queue is full", contentType: "application/json" },
      },
      handler: () => {
        const stats = model.stats;
        const ready = stats.queuedRows < model.maxQueuedImages;
        return Response.json(
          { status: ready ? "ready" : "busy", model: model.manifest.model, queue: stats },
          { status: ready ? 200 : 503 },
        );
      },
    }),
  ];
}
