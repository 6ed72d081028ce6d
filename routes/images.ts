/**
 * Generation: `GET /v1/images/{seed}.png` and `POST /v1/generate`.
 *
 * @module
 */

import { z } from "zod";
import { latentForSeed } from "../model/latents.ts";
import type { Renderer } from "../model/renderer.ts";
import { HttpProblem, invalidField } from "./problem.ts";
import { acceptedQuality } from "./accept.ts";
import { pngBase64Of, pngResponse } from "./respond.ts";
import {
  latentArray,
  type Limits,
  pngBase64,
  seedNumber,
  seedString,
  sizeNumber,
  sizeString,
  truncationNumber,
  truncationString,
} from "./schemas.ts";
import { defineRoute, PICTURE_RESPONSES, PROBLEM_RESPONSE, type RouteSpec } from "./route.ts";

/** The generation routes. */
export function imageRoutes(renderer: Renderer, limits: Limits): RouteSpec[] {
  const generateBody = z.strictObject({
    seeds: z.array(seedNumber).min(1).max(limits.maxBatch).optional().describe(
      `seeds of the images (1..${limits.maxBatch})`,
    ),
    latents: z.array(latentArray(limits)).min(1).max(limits.maxBatch).optional().describe(
      `explicit latents (1..${limits.maxBatch})`,
    ),
    truncation: truncationNumber,
    size: sizeNumber(limits),
  });
  const generated = z.object({
    images: z.array(z.object({
      seed: seedNumber.nullable().describe("the seed, or null for an explicit latent"),
      png: pngBase64,
    })),
  });
  return [
    defineRoute({
      method: "get",
      path: "/v1/latents/{seed}.json",
      operationId: "getLatent",
      tag: "generation",
      summary: "The latent z of a seed",
      description: "The latent that /v1/images/{seed}.png draws (scaled by truncation), to edit " +
        "and send back as `latents`, or to run the model's ONNX files in a client.",
      params: z.object({ seed: seedString }),
      query: z.strictObject({ truncation: truncationString }),
      immutable: true,
      responses: {
        200: {
          description: "the latent",
          contentType: "application/json",
          schema: z.object({ seed: seedNumber, latent: z.array(z.number()) }),
        },
        304: { description: "not modified" },
        400: PROBLEM_RESPONSE,
      },
      handler: ({ params, query }) =>
        Response.json({
          seed: params.seed,
          latent: Array.from(latentForSeed(params.seed, limits.latent, query.truncation)),
        }),
    }),
    defineRoute({
      method: "get",
      path: "/v1/images/{seed}.png",
      operationId: "getImage",
      tag: "generation",
      summary: "The image of a seed",
      description: "The same seed always gives the same image of a given model.",
      params: z.object({ seed: seedString }),
      query: z.strictObject({ truncation: truncationString, size: sizeString(limits) }),
      immutable: true,
      responses: PICTURE_RESPONSES,
      handler: async ({ params, query, signal }) => {
        const pictures = await renderer.run({
          kind: "generate",
          sources: [params.seed],
          truncation: query.truncation,
          size: query.size ?? limits.resolution,
        }, signal);
        return pngResponse(pictures["0"]);
      },
    }),
    defineRoute({
      method: "post",
      path: "/v1/generate",
      operationId: "generateImages",
      tag: "generation",
      summary: "Images from seeds or explicit latents",
      description: "One image answers as a PNG, unless the Accept header prefers " +
        "application/json; several as JSON with base64 PNGs, in order (406 if Accept excludes " +
        `JSON). Give exactly one of seeds and latents; at most ${limits.maxBatch} images.`,
      body: generateBody,
      responses: {
        200: {
          description: "the image (image/png) or images (application/json)",
          contentType: "application/json",
          schema: generated,
          otherContentType: "image/png",
        },
        400: PROBLEM_RESPONSE,
        406: { ...PROBLEM_RESPONSE, description: "several images, and Accept excludes JSON" },
        413: PROBLEM_RESPONSE,
        415: PROBLEM_RESPONSE,
      },
      handler: async ({ body, signal, headers }) => {
        if ((body.seeds === undefined) === (body.latents === undefined)) {
          throw invalidField("body.seeds", "give exactly one of seeds and latents");
        }
        const sources = body.seeds ?? body.latents!.map((latent) => ({ latent }));
        const accept = headers.get("accept");
        const png = acceptedQuality(accept, "image/png");
        const json = acceptedQuality(accept, "application/json");
        const asPng = sources.length === 1 && png > 0 && png >= json;
        if (!asPng && json === 0) {
          throw new HttpProblem(
            "not-acceptable",
            `the Accept header ("${accept}") excludes application/json, ` +
              (sources.length === 1
                ? "and image/png too."
                : `in which ${sources.length} images answer; ask for one image to get a PNG.`),
          );
        }
        const pictures = await renderer.run({
          kind: "generate",
          sources,
          truncation: body.truncation,
          size: body.size ?? limits.resolution,
        }, signal);
        if (asPng) return pngResponse(pictures["0"]);
        return Response.json({
          images: sources.map((source, k) => ({
            seed: typeof source === "number" ? source : null,
            png: pngBase64Of(pictures[String(k)]),
          })),
        });
      },
    }),
  ];
}
