/**
 * The target layer's maps of a generated image: one kernel, all kernels in a
 * grid ordered by group, the concept map (each position coloured by its
 * strongest group, as in the paper's Fig. 3) and one group's centre.
 *
 * @module
 */

import { z } from "zod";
import { imageGrid, type RgbImage } from "../training/data/image.ts";
import { conceptMaps } from "../training/eval/concept_map.ts";
import type { ConceptGroup } from "../model/manifest.ts";
import type { ServedModel } from "../model/model.ts";
import { blendColors, drawMap, normalisedMap, resizeImage } from "../model/render.ts";
import {
  generate,
  latentsOf,
  mapsOf,
  picture,
  pngResponse,
  resolveConceptsField,
} from "./pipeline.ts";
import {
  integerString,
  type Limits,
  mapStyle,
  MIN_IMAGE_SIZE,
  seedString,
  sizeString,
  truncationString,
} from "./schemas.ts";
import { defineRoute, PICTURE_RESPONSES, type RouteSpec } from "./spec.ts";

/** The mean map [K] of `channels` of maps [M, K]. */
export function centreOf(maps: Float32Array, channels: readonly number[], k: number): Float32Array {
  const centre = new Float32Array(k);
  for (const channel of channels) {
    for (let p = 0; p < k; p++) centre[p] += maps[channel * k + p] / channels.length;
  }
  return centre;
}

/** The centre [K] of `groups` taken together, and the peak it is divided by. */
export function groupsCentre(
  maps: Float32Array,
  groups: readonly ConceptGroup[],
  k: number,
): { centre: Float32Array; peak: number } {
  return {
    centre: centreOf(maps, groups.flatMap((g) => g.channels), k),
    peak: Math.max(...groups.map((g) => g.peak)),
  };
}

/** The map routes. */
export function mapRoutes(model: ServedModel, limits: Limits): RouteSpec[] {
  const { manifest } = model;
  const { height, width, channels, channelPeaks } = manifest.target;
  const k = height * width;
  const columns = Math.ceil(Math.sqrt(channels));
  const maxTile = Math.max(MIN_IMAGE_SIZE, Math.floor((2 * limits.maxImageSize) / columns));
  const imageQuery = {
    truncation: truncationString,
    size: sizeString(limits),
  };
  const seedPath = z.object({ seed: seedString });

  /** The seed's maps, and its image when `withImage` (a style that draws over it): no tail run otherwise. */
  async function render(
    seed: number,
    truncation: number | undefined,
    withImage: boolean,
    signal: AbortSignal,
  ) {
    const latents = latentsOf(model, [seed], truncation);
    if (!withImage) return { maps: await model.maps(latents, 1, signal), images: null };
    return await generate(model, latents, 1, signal);
  }

  /** The background a map is drawn on: the image, or black for heat maps. */
  function background(images: Float32Array | null, size: number): RgbImage {
    return images
      ? picture(model, images, 0, size)
      : { width: size, height: size, data: new Uint8Array(size * size * 3) };
  }

  return [
    defineRoute({
      method: "get",
      path: "/v1/images/{seed}/kernels/{kernel}.png",
      tag: "feature maps",
      summary: "One kernel's map of the target layer, scaled to the image",
      params: seedPath.extend({
        kernel: integerString(0, channels - 1, "kernel (channel) of the target layer"),
      }),
      query: z.strictObject({ ...imageQuery, style: mapStyle }),
      immutable: true,
      responses: PICTURE_RESPONSES,
      handler: async ({ params, query, signal }) => {
        const size = query.size ?? limits.resolution;
        const { maps, images } = await render(
          params.seed,
          query.truncation,
          query.style !== "heat",
          signal,
        );
        const map = normalisedMap(
          maps,
          params.kernel,
          [height, width],
          channelPeaks[params.kernel],
          size,
        );
        return pngResponse(drawMap(map, background(images, size), query.style));
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/images/{seed}/kernels.png",
      tag: "feature maps",
      summary: "All kernels' maps in one grid, ordered by concept group",
      description: `Tiles of side \`size\` (default ${limits.resolution}, at most ${maxTile}), ` +
        `${columns} per row, 2 px apart, group by group in the manifest's order.`,
      params: seedPath,
      query: z.strictObject({
        truncation: truncationString,
        size: integerString(MIN_IMAGE_SIZE, maxTile, "side of each tile in pixels").optional(),
        style: mapStyle,
      }),
      immutable: true,
      responses: PICTURE_RESPONSES,
      handler: async ({ params, query, signal }) => {
        const size = query.size ?? Math.min(limits.resolution, maxTile);
        const { maps, images } = await render(
          params.seed,
          query.truncation,
          query.style !== "heat",
          signal,
        );
        const base = background(images, size);
        const tiles = manifest.groups.flatMap((g) => g.channels).map((kernel) =>
          drawMap(
            normalisedMap(maps, kernel, [height, width], channelPeaks[kernel], size),
            base,
            query.style,
          )
        );
        return pngResponse(imageGrid(tiles, columns));
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/images/{seed}/concepts.png",
      tag: "feature maps",
      summary: "The concept map: each position coloured by its strongest group",
      description: "Positions where no group centre reaches 0.2 of its peak stay black (map) or " +
        "show the image (overlay). Colours are the groups' colours in /v1/model.",
      params: seedPath,
      query: z.strictObject({
        ...imageQuery,
        style: z.enum(["map", "overlay"]).default("map").describe(
          "map: colours only; overlay: colours blended over the image",
        ),
      }),
      immutable: true,
      responses: PICTURE_RESPONSES,
      handler: async ({ params, query, signal }) => {
        const size = query.size ?? limits.resolution;
        const { maps, images } = await render(
          params.seed,
          query.truncation,
          query.style === "overlay",
          signal,
        );
        const [concepts] = conceptMaps(
          { data: maps, shape: [1, channels, height, width] },
          model.assignment,
          manifest.groups.length,
          manifest.resolution,
          {
            peaks: manifest.groups.map((g) => g.peak),
            colors: manifest.groups.map((g) => hexColor(g.color)),
          },
        );
        const map = resizeImage(concepts, size);
        if (!images) return pngResponse(map);
        return pngResponse(blendColors(picture(model, images, 0, size), map));
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/images/{seed}/concepts/{group}.png",
      tag: "feature maps",
      summary: "One concept group's centre (the mean of its kernels' maps)",
      description: "A group id, or a label (all groups with that label together).",
      params: seedPath.extend({
        group: z.string().regex(/^[\w-]+$/, "must be a group id or label").describe(
          "group id or label",
        ),
      }),
      query: z.strictObject({ ...imageQuery, style: mapStyle }),
      immutable: true,
      responses: PICTURE_RESPONSES,
      handler: async ({ params, query, signal }) => {
        const groups = resolveConceptsField(model, [params.group], "path.group");
        const size = query.size ?? limits.resolution;
        const { maps, images } = await render(
          params.seed,
          query.truncation,
          query.style !== "heat",
          signal,
        );
        const { centre, peak } = groupsCentre(mapsOf(model, maps, 0), groups, k);
        const map = normalisedMap(centre, 0, [height, width], peak, size);
        return pngResponse(drawMap(map, background(images, size), query.style));
      },
    }),
  ];
}

/** "#rrggbb" as RGB. */
export function hexColor(color: string): [number, number, number] {
  return [1, 3, 5].map((at) => parseInt(color.slice(at, at + 2), 16)) as [number, number, number];
}
