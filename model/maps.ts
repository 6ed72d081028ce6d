/**
 * Pictures of the target layer's maps of a generated image: one kernel, all
 * kernels in a grid ordered by group, the concept map (each position coloured
 * by its strongest group, as in the paper's Fig. 3) and the centre of some
 * groups.
 *
 * @module
 */

import { conceptMaps } from "../core/concept_map.ts";
import { imageGrid, type RgbImage } from "../core/image.ts";
import { channelsCentre } from "../core/partition.ts";
import { type ImageSource, mapsOf, mapsOfSources, picture } from "./generation.ts";
import type { ConceptGroup } from "./manifest.ts";
import type { ServedModel } from "./model.ts";
import { blendColors, drawMap, type MapStyle, normalisedMap, resizeImage } from "./render.ts";

/** Which image a map picture is of, and its side. */
export interface MapPictureRequest {
  image: ImageSource;
  truncation?: number;
  size: number;
}

/** The centre [K] of `groups` taken together, and the peak it is divided by. */
export function groupsCentre(
  maps: Float32Array,
  groups: readonly ConceptGroup[],
  k: number,
): { centre: Float32Array; peak: number } {
  return {
    centre: channelsCentre(maps, groups.flatMap((g) => g.channels), k),
    peak: Math.max(...groups.map((g) => g.peak)),
  };
}

/** "#rrggbb" as RGB. */
export function hexColor(color: string): [number, number, number] {
  return [1, 3, 5].map((at) => parseInt(color.slice(at, at + 2), 16)) as [number, number, number];
}

/** Tiles per row of the kernel grid of a layer of `channels` kernels. */
export function kernelGridColumns(channels: number): number {
  return Math.ceil(Math.sqrt(channels));
}

/** The image's maps, and its images when `withImage` (a style that draws over it): no tail run otherwise. */
async function render(
  model: ServedModel,
  request: MapPictureRequest,
  withImage: boolean,
  signal: AbortSignal,
): Promise<{ maps: Float32Array; images: Float32Array | null }> {
  const maps = await mapsOfSources(model, [request.image], request.truncation, signal);
  return { maps, images: withImage ? await model.images(maps, 1, signal) : null };
}

/** The background a map is drawn on: the image, or black for heat maps. */
function background(model: ServedModel, images: Float32Array | null, size: number): RgbImage {
  return images
    ? picture(model, images, 0, size)
    : { width: size, height: size, data: new Uint8Array(size * size * 3) };
}

/** One kernel's map, scaled to the picture and drawn in `style`. */
export async function kernelMapPicture(
  model: ServedModel,
  request: MapPictureRequest & { kernel: number; style: MapStyle },
  signal: AbortSignal,
): Promise<RgbImage> {
  const { height, width, channelPeaks } = model.manifest.target;
  const { maps, images } = await render(model, request, request.style !== "heat", signal);
  const map = normalisedMap(
    maps,
    request.kernel,
    [height, width],
    channelPeaks[request.kernel],
    request.size,
  );
  return drawMap(map, background(model, images, request.size), request.style);
}

/** Every kernel's map, tiles of side `size` group by group, {@link kernelGridColumns} a row. */
export async function kernelGridPicture(
  model: ServedModel,
  request: MapPictureRequest & { style: MapStyle },
  signal: AbortSignal,
): Promise<RgbImage> {
  const { groups, target: { height, width, channels, channelPeaks } } = model.manifest;
  const { maps, images } = await render(model, request, request.style !== "heat", signal);
  const base = background(model, images, request.size);
  const tiles = groups.flatMap((g) => g.channels).map((kernel) =>
    drawMap(
      normalisedMap(maps, kernel, [height, width], channelPeaks[kernel], request.size),
      base,
      request.style,
    )
  );
  return imageGrid(tiles, kernelGridColumns(channels));
}

/** The concept map, alone (`map`) or blended over the image (`overlay`). */
export async function conceptMapPicture(
  model: ServedModel,
  request: MapPictureRequest & { style: "map" | "overlay" },
  signal: AbortSignal,
): Promise<RgbImage> {
  const { manifest } = model;
  const { height, width, channels } = manifest.target;
  const { maps, images } = await render(model, request, request.style === "overlay", signal);
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
  const map = resizeImage(concepts, request.size);
  return images ? blendColors(picture(model, images, 0, request.size), map) : map;
}

/** The centre of `groups` taken together, drawn in `style`. */
export async function groupMapPicture(
  model: ServedModel,
  request: MapPictureRequest & { groups: readonly ConceptGroup[]; style: MapStyle },
  signal: AbortSignal,
): Promise<RgbImage> {
  const { height, width } = model.manifest.target;
  const { maps, images } = await render(model, request, request.style !== "heat", signal);
  const { centre, peak } = groupsCentre(mapsOf(model, maps, 0), request.groups, height * width);
  const map = normalisedMap(centre, 0, [height, width], peak, request.size);
  return drawMap(map, background(model, images, request.size), request.style);
}
