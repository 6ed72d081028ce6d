/**
 * The concept swap routes: `GET /v1/swap/{target}/{source}.png` and
 * `POST /v1/swap` (the swap itself is `model/swap.ts`, run as a job of the
 * renderer).
 *
 * @module
 */

import { z } from "zod";
import type { ServedModel } from "../model/model.ts";
import type { Renderer } from "../model/renderer.ts";
import { defaultSwapMode, SWAP_EXTRAS, SWAP_MODES, type SwapMode } from "../model/swap.ts";
import { conceptIdsField, pngBase64Of, pngResponse } from "./respond.ts";
import {
  conceptsArray,
  conceptsString,
  imageSource,
  type Limits,
  pngBase64,
  seedString,
  sizeNumber,
  sizeString,
  truncationNumber,
  truncationString,
} from "./schemas.ts";
import { refuseFitWithLangevin, withField } from "./photos.ts";
import { defineRoute, PICTURE_RESPONSES, PROBLEM_RESPONSE, type RouteSpec } from "./route.ts";
import { langevinOptions } from "./refine.ts";
import { langevinSettings } from "../model/langevin.ts";
import { floatsOf } from "../model/jobs.ts";

/** The swap routes. */
export function swapRoutes(model: ServedModel, renderer: Renderer, limits: Limits): RouteSpec[] {
  const swapped = z.object({
    groups: z.array(z.number().int()).describe("the ids of the swapped groups"),
    swapped: pngBase64.describe("the target with the source's concepts"),
    difference: pngBase64.optional(),
    mask: pngBase64.optional(),
    target: pngBase64.optional(),
    source: pngBase64.optional(),
    latents: z.object({ target: z.array(z.number()), source: z.array(z.number()) }).optional()
      .describe("with refine: the revised latents"),
  });
  // The model's own measured modes (its manifest's eval:faces figures) are the default: the
  // modes in which its swaps were shown to carry the source's parts and face.
  const { faces, face } = model.manifest;
  const partMode = defaultSwapMode(faces, face, []);
  const faceMode = defaultSwapMode(faces, face, face ?? []);
  const modeOf = (groups: number[], asked: SwapMode | undefined) =>
    asked ?? defaultSwapMode(faces, face, groups);
  const mode = z.enum(SWAP_MODES).optional().describe(
    "groups (the paper's): only the chosen groups' filters are exchanged, everywhere; region: " +
      "also every other filter inside the chosen groups' region, so that what the rest of the " +
      "layer draws there travels with the part (the target's part, and the source's where it " +
      "reaches at most 2 pixels at 64x64 past it; a group's stray pieces, over 7 positions of " +
      "the target layer from its strongest one, are left out); wide: both images' parts whole, " +
      "grown by a margin (4 pixels at 64x64), which carries a face's contour too, at the cost " +
      "of a part swap's locality " +
      `(default for this model: ${partMode}, and ${faceMode} for the face; the modes its face ` +
      "measurements used)",
  );
  return [
    defineRoute({
      method: "get",
      path: "/v1/swap/{target}/{source}.png",
      operationId: "getSwap",
      tag: "concept swaps",
      summary: "The target seed's image with the source seed's concepts",
      description: "view=swapped (default) returns the swapped image; difference its squared RGB " +
        "difference from the target; mask the swapped region on the target; strip all five " +
        "side by side: target | mask | source | swapped | difference (the paper's Fig. 5).",
      params: z.object({ target: seedString, source: seedString }),
      query: z.strictObject({
        concepts: conceptsString,
        mode,
        view: z.enum(["swapped", "difference", "mask", "strip"]).default("swapped").describe(
          "what to return",
        ),
        truncation: truncationString,
        size: sizeString(limits),
      }),
      immutable: true,
      responses: PICTURE_RESPONSES,
      handler: async ({ params, query, signal }) => {
        const strip = query.view === "strip";
        const groups = conceptIdsField(model, query.concepts, "query.concepts");
        const pictures = await renderer.run({
          kind: "swap",
          target: params.target,
          source: params.source,
          groups,
          mode: modeOf(groups, query.mode),
          truncation: query.truncation,
          size: query.size ?? limits.resolution,
          extras: query.view === "strip"
            ? [...SWAP_EXTRAS]
            : query.view === "swapped"
            ? []
            : [query.view],
          strip,
        }, signal);
        return pngResponse(pictures[query.view]);
      },
    }),
    defineRoute({
      method: "post",
      path: "/v1/swap",
      operationId: "swapImages",
      tag: "concept swaps",
      summary: "Swap concepts between two images given by seeds, latents or photos",
      description: "Returns JSON with the swapped image and, as asked by include, the squared " +
        "difference heat map, the swapped region on the target, and the two originals.",
      body: z.strictObject({
        target: imageSource(limits),
        source: imageSource(limits),
        concepts: conceptsArray,
        mode,
        truncation: truncationNumber,
        size: sizeNumber(limits),
        include: z.array(z.enum(SWAP_EXTRAS)).default([]).describe("extra pictures to return"),
        refine: langevinOptions(model).optional().describe(
          "revise both latents by Langevin dynamics first, so that the swapped maps become more " +
            "probable under the energy model (the paper's Fig. 7b); the answer's latents are the " +
            "revised ones",
        ),
      }),
      responses: {
        200: { description: "the swap", contentType: "application/json", schema: swapped },
        400: PROBLEM_RESPONSE,
        413: PROBLEM_RESPONSE,
        415: PROBLEM_RESPONSE,
        501: PROBLEM_RESPONSE,
      },
      handler: async ({ body, signal }) => {
        const groups = conceptIdsField(model, body.concepts, "body.concepts");
        if (body.refine) {
          refuseFitWithLangevin({ "body.target": body.target, "body.source": body.source });
        }
        const pictures = await renderer.run({
          kind: "swap",
          target: withField(body.target, "body.target"),
          source: withField(body.source, "body.source"),
          groups,
          mode: modeOf(groups, body.mode),
          truncation: body.truncation,
          size: body.size ?? limits.resolution,
          extras: [...new Set(body.include)],
          strip: false,
          refine: body.refine && langevinSettings(model, body.refine),
        }, signal);
        const { latents, ...images } = pictures;
        const encoded = Object.fromEntries(
          Object.entries(images).map(([key, png]) => [key, pngBase64Of(png)]),
        );
        const refined = latents && floatsOf(latents);
        const Z = limits.latent;
        return Response.json({
          groups,
          ...encoded,
          ...(refined
            ? {
              latents: {
                target: Array.from(refined.subarray(0, Z)),
                source: Array.from(refined.subarray(Z)),
              },
            }
            : {}),
        });
      },
    }),
  ];
}
