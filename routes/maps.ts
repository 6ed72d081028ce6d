/**
 * The feature-map routes: one kernel, all kernels, the concept map and one
 * group's centre of a seed's image (drawn by `model/maps.ts`, as jobs of the
 * renderer), and `POST /v1/maps` for the same of a latent or a photo.
 *
 * @module
 */

import { z } from "zod";
import { kernelGridColumns } from "../model/maps.ts";
import type { ServedModel } from "../model/model.ts";
import type { PictureJob } from "../model/jobs.ts";
import type { Renderer } from "../model/renderer.ts";
import { conceptIdsField, pngResponse } from "./respond.ts";
import {
  groupName,
  groupRef,
  imageSource,
  integerString,
  type Limits,
  mapStyle,
  MIN_IMAGE_SIZE,
  seedString,
  sizeNumber,
  sizeString,
  truncationNumber,
  truncationString,
} from "./schemas.ts";
import { defineRoute, PICTURE_RESPONSES, PROBLEM_RESPONSE, type RouteSpec } from "./route.ts";
import { invalidField } from "./problem.ts";
import { withField } from "./photos.ts";

/** The map routes. */
export function mapRoutes(model: ServedModel, renderer: Renderer, limits: Limits): RouteSpec[] {
  const { channels } = model.manifest.target;
  const columns = kernelGridColumns(channels);
  const maxTile = Math.max(MIN_IMAGE_SIZE, Math.floor((2 * limits.maxImageSize) / columns));
  const imageQuery = {
    truncation: truncationString,
    size: sizeString(limits),
  };
  const seedPath = z.object({ seed: seedString });
  /** The one picture of a map job, as a PNG response. */
  const picture = async (job: PictureJob, signal: AbortSignal) =>
    pngResponse((await renderer.run(job, signal)).picture);

  return [
    defineRoute({
      method: "get",
      path: "/v1/images/{seed}/kernels/{kernel}.png",
      operationId: "getKernelMap",
      tag: "feature maps",
      summary: "One kernel's map of the target layer, scaled to the image",
      params: seedPath.extend({
        kernel: integerString(0, channels - 1, "kernel (channel) of the target layer"),
      }),
      query: z.strictObject({ ...imageQuery, style: mapStyle }),
      immutable: true,
      responses: PICTURE_RESPONSES,
      handler: ({ params, query, signal }) =>
        picture({
          kind: "kernel",
          image: params.seed,
          truncation: query.truncation,
          kernel: params.kernel,
          style: query.style,
          size: query.size ?? limits.resolution,
        }, signal),
    }),
    defineRoute({
      method: "get",
      path: "/v1/images/{seed}/kernels.png",
      operationId: "getKernelGrid",
      tag: "feature maps",
      summary: "All kernels' maps in one grid, ordered by concept group",
      description: `Tiles of side \`size\` (default ${limits.resolution}, at most ${maxTile}), ` +
        `${columns} per row, 2 px apart, group by group in the manifest's order.`,
      params: seedPath,
      query: z.strictObject({
        truncation: truncationString,
        size: integerString(MIN_IMAGE_SIZE, maxTile, "side of each tile in pixels").optional()
          .describe(
            `side of each tile in pixels, ${MIN_IMAGE_SIZE}..${maxTile} ` +
              `(default ${Math.min(limits.resolution, maxTile)})`,
          ),
        style: mapStyle,
      }),
      immutable: true,
      responses: PICTURE_RESPONSES,
      handler: ({ params, query, signal }) =>
        picture({
          kind: "kernel-grid",
          image: params.seed,
          truncation: query.truncation,
          style: query.style,
          size: query.size ?? Math.min(limits.resolution, maxTile),
        }, signal),
    }),
    defineRoute({
      method: "get",
      path: "/v1/images/{seed}/concepts.png",
      operationId: "getConceptMap",
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
      handler: ({ params, query, signal }) =>
        picture({
          kind: "concept-map",
          image: params.seed,
          truncation: query.truncation,
          style: query.style,
          size: query.size ?? limits.resolution,
        }, signal),
    }),
    defineRoute({
      method: "post",
      path: "/v1/maps",
      operationId: "drawMaps",
      tag: "feature maps",
      summary: "The maps of an image given by seed, latent or photo",
      description: "view=kernel (with kernel), kernels (the grid), concepts (the concept map) or " +
        "group (with group: an id or label), as the GET map routes draw them; a photo is encoded " +
        "first (501 for models without an encoder).",
      body: z.strictObject({
        image: imageSource(limits),
        view: z.enum(["kernel", "kernels", "concepts", "group"]).describe("which picture"),
        kernel: z.number().int().min(0).max(channels - 1).optional().describe(
          "with view=kernel: the kernel (channel)",
        ),
        group: groupRef.optional()
          .describe("with view=group: a group id, label or face"),
        style: z.enum(["heat", "overlay", "contour", "map"]).optional().describe(
          "heat, overlay or contour (kernel, kernels, group; default heat); map or overlay " +
            "(concepts; default map)",
        ),
        truncation: truncationNumber,
        size: sizeNumber(limits),
      }),
      responses: {
        200: { description: "the picture", contentType: "image/png" },
        400: PROBLEM_RESPONSE,
        413: PROBLEM_RESPONSE,
        415: PROBLEM_RESPONSE,
        501: PROBLEM_RESPONSE,
      },
      handler: ({ body, signal }) => {
        const common = {
          image: withField(body.image, "body.image"),
          truncation: body.truncation,
          size: body.size ?? limits.resolution,
        };
        // A field of another view is a mistake, not something to ignore.
        if (body.kernel !== undefined && body.view !== "kernel") {
          throw invalidField("body.kernel", `applies to view=kernel, not view=${body.view}`);
        }
        if (body.group !== undefined && body.view !== "group") {
          throw invalidField("body.group", `applies to view=group, not view=${body.view}`);
        }
        const style = body.style ?? (body.view === "concepts" ? "map" : "heat");
        if (body.view === "concepts") {
          if (style !== "map" && style !== "overlay") {
            throw invalidField("body.style", "is map or overlay for view=concepts");
          }
          return picture({ kind: "concept-map", ...common, style }, signal);
        }
        if (style === "map") {
          throw invalidField("body.style", `is heat, overlay or contour for view=${body.view}`);
        }
        if (body.view === "kernels") {
          if (body.size !== undefined && body.size > maxTile) {
            throw invalidField(
              "body.size",
              `is at most ${maxTile} for view=kernels (a tile's side)`,
            );
          }
          return picture({
            kind: "kernel-grid",
            ...common,
            style,
            size: body.size ?? Math.min(limits.resolution, maxTile),
          }, signal);
        }
        if (body.view === "kernel") {
          if (body.kernel === undefined) {
            throw invalidField("body.kernel", "is needed for view=kernel");
          }
          return picture({ kind: "kernel", ...common, kernel: body.kernel, style }, signal);
        }
        if (body.group === undefined) throw invalidField("body.group", "is needed for view=group");
        const groups = conceptIdsField(model, [String(body.group)], "body.group");
        return picture({ kind: "group-map", ...common, groups, style }, signal);
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/images/{seed}/concepts/{group}.png",
      operationId: "getGroupMap",
      tag: "feature maps",
      summary: "One concept group's centre (the mean of its kernels' maps)",
      description: "A group id, a label (all groups with that label together), or face (the " +
        "face swap's groups together).",
      params: seedPath.extend({
        group: groupName.describe("group id, label or face"),
      }),
      query: z.strictObject({ ...imageQuery, style: mapStyle }),
      immutable: true,
      responses: PICTURE_RESPONSES,
      handler: ({ params, query, signal }) =>
        picture({
          kind: "group-map",
          image: params.seed,
          truncation: query.truncation,
          groups: conceptIdsField(model, [params.group], "path.group"),
          style: query.style,
          size: query.size ?? limits.resolution,
        }, signal),
    }),
  ];
}
