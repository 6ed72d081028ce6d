/**
 * The concept swap routes: `GET /v1/swap/{target}/{source}.png` and
 * `POST /v1/swap` (the swap itself is `model/swap.ts`).
 *
 * @module
 */

import { z } from "zod";
import type { ServedModel } from "../model/model.ts";
import { SWAP_EXTRAS, swapPictures, swapStrip } from "../model/swap.ts";
import { pngBase64Of, pngResponse, resolveConceptsField } from "./respond.ts";
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
import { defineRoute, PICTURE_RESPONSES, PROBLEM_RESPONSE, type RouteSpec } from "./route.ts";

/** The swap routes. */
export function swapRoutes(model: ServedModel, limits: Limits): RouteSpec[] {
  const swapped = z.object({
    groups: z.array(z.number().int()).describe("the ids of the swapped groups"),
    swapped: pngBase64.describe("the target with the source's concepts"),
    difference: pngBase64.optional(),
    mask: pngBase64.optional(),
    target: pngBase64.optional(),
    source: pngBase64.optional(),
  });
  return [
    defineRoute({
      method: "get",
      path: "/v1/swap/{target}/{source}.png",
      tag: "concept swaps",
      summary: "The target seed's image with the source seed's concepts",
      description: "view=swapped (default) returns the swapped image; difference its squared RGB " +
        "difference from the target; mask the swapped region on the target; strip all five " +
        "side by side: target | mask | source | swapped | difference (the paper's Fig. 5).",
      params: z.object({ target: seedString, source: seedString }),
      query: z.strictObject({
        concepts: conceptsString,
        view: z.enum(["swapped", "difference", "mask", "strip"]).default("swapped").describe(
          "what to return",
        ),
        truncation: truncationString,
        size: sizeString(limits),
      }),
      immutable: true,
      responses: PICTURE_RESPONSES,
      handler: async ({ params, query, signal }) => {
        const groups = resolveConceptsField(model, query.concepts, "query.concepts");
        const extras = new Set<typeof SWAP_EXTRAS[number]>(
          query.view === "strip" ? SWAP_EXTRAS : query.view === "swapped" ? [] : [query.view],
        );
        const pictures = await swapPictures(model, {
          target: params.target,
          source: params.source,
          groups,
          truncation: query.truncation,
          size: query.size ?? limits.resolution,
          extras,
        }, signal);
        if (query.view === "strip") {
          return pngResponse(swapStrip(pictures));
        }
        return pngResponse(query.view === "swapped" ? pictures.swapped : pictures[query.view]!);
      },
    }),
    defineRoute({
      method: "post",
      path: "/v1/swap",
      tag: "concept swaps",
      summary: "Swap concepts between two images given by seeds or latents",
      description: "Returns JSON with the swapped image and, as asked by include, the squared " +
        "difference heat map, the swapped region on the target, and the two originals.",
      body: z.strictObject({
        target: imageSource(limits),
        source: imageSource(limits),
        concepts: conceptsArray,
        truncation: truncationNumber,
        size: sizeNumber(limits),
        include: z.array(z.enum(SWAP_EXTRAS)).default([]).describe("extra pictures to return"),
      }),
      responses: {
        200: { description: "the swap", contentType: "application/json", schema: swapped },
        400: PROBLEM_RESPONSE,
        413: PROBLEM_RESPONSE,
        415: PROBLEM_RESPONSE,
      },
      handler: async ({ body, signal }) => {
        const groups = resolveConceptsField(model, body.concepts, "body.concepts");
        const pictures = await swapPictures(model, {
          target: body.target,
          source: body.source,
          groups,
          truncation: body.truncation,
          size: body.size ?? limits.resolution,
          extras: new Set(body.include),
        }, signal);
        const pictureKeys = ["swapped", "difference", "mask", "target", "source"] as const;
        const encoded = Object.fromEntries(
          pictureKeys.flatMap((key) => {
            const image = pictures[key];
            return image ? [[key, pngBase64Of(image)]] : [];
          }),
        );
        return Response.json({ groups: groups.map((g) => g.id), ...encoded });
      },
    }),
  ];
}
