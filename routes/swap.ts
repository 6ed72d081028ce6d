/**
 * Concept swaps (the paper's part exchange and face swap, Figs. 5 and 6):
 * the target-layer maps of the chosen groups' kernels are copied from the
 * source image into the target's, and the tail finishes the image. A swap
 * runs the head once on [target, source] and the tail once on the swapped
 * maps (with the originals in the same run when the answer shows them).
 *
 * @module
 */

import { z } from "zod";
import { concatArrays } from "../training/data/concat.ts";
import { imageGrid, type RgbImage } from "../training/data/image.ts";
import type { ConceptGroup } from "../model/manifest.ts";
import type { ServedModel } from "../model/model.ts";
import { differenceMap, normalisedMap, REGION_THRESHOLD, tintMask } from "../model/render.ts";
import {
  type ImageSource,
  latentsOf,
  mapsOf,
  picture,
  pngBase64Of,
  pngResponse,
  resolveConceptsField,
} from "./pipeline.ts";
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
import { defineRoute, PICTURE_RESPONSES, PROBLEM_RESPONSE, type RouteSpec } from "./spec.ts";
import { groupsCentre } from "./maps.ts";

/** What a swap answer shows besides the swapped image. */
export const SWAP_EXTRAS = ["difference", "mask", "originals"] as const;

/** A swap's pictures, each of side `size`. */
export interface SwapPictures {
  groups: ConceptGroup[];
  swapped: RgbImage;
  target?: RgbImage;
  source?: RgbImage;
  /** Squared RGB difference between the target and the swapped image. */
  difference?: RgbImage;
  /** The swapped region (where a chosen group is active in the target or the source) on the target. */
  mask?: RgbImage;
}

/** Runs a swap of `groups` from `source` into `target`, drawing what `extras` asks for. */
export async function swapPictures(
  model: ServedModel,
  request: {
    target: ImageSource;
    source: ImageSource;
    groups: ConceptGroup[];
    truncation?: number;
    size: number;
    extras: ReadonlySet<typeof SWAP_EXTRAS[number]>;
  },
  signal: AbortSignal,
): Promise<SwapPictures> {
  const { groups, size, extras } = request;
  const maps = await model.maps(
    latentsOf(model, [request.target, request.source], request.truncation),
    2,
    signal,
  );
  const [targetMaps, sourceMaps] = [mapsOf(model, maps, 0), mapsOf(model, maps, 1)];
  const { height, width } = model.manifest.target;
  const k = height * width;
  const swappedMaps = new Float32Array(targetMaps);
  for (const channel of groups.flatMap((g) => g.channels)) {
    swappedMaps.set(sourceMaps.subarray(channel * k, (channel + 1) * k), channel * k);
  }
  const needTarget = extras.has("difference") || extras.has("mask") || extras.has("originals");
  const rows = [
    swappedMaps,
    ...(needTarget ? [targetMaps] : []),
    ...(extras.has("originals") ? [sourceMaps] : []),
  ];
  const images = await model.images(concatArrays(Float32Array, rows), rows.length, signal);
  const result: SwapPictures = { groups, swapped: picture(model, images, 0, size) };
  if (!needTarget) return result;
  const target = picture(model, images, 1, size);
  if (extras.has("originals")) {
    Object.assign(result, { target, source: picture(model, images, 2, size) });
  }
  if (extras.has("difference")) result.difference = differenceMap(target, result.swapped);
  if (extras.has("mask")) {
    const region = (m: Float32Array) => {
      const { centre, peak } = groupsCentre(m, groups, k);
      return normalisedMap(centre, 0, [height, width], peak, size);
    };
    const [a, b] = [region(targetMaps), region(sourceMaps)];
    const mask = a.map((v, p) => (Math.max(v, b[p]) >= REGION_THRESHOLD ? 1 : 0));
    result.mask = tintMask(target, mask);
  }
  return result;
}

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
          const { target, mask, source, swapped, difference } = pictures;
          return pngResponse(imageGrid([target!, mask!, source!, swapped, difference!], 5));
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
