/**
 * The zod schemas that requests are validated with, shared by the routes.
 * Path and query values arrive as strings and are parsed strictly (digits
 * only: no signs, spaces, exponents or hex); limits that depend on the
 * model or the configuration come from {@link Limits}.
 *
 * @module
 */

import { z } from "zod";
import { MAX_SEED } from "../model/latents.ts";
import { CONCEPT_NAME } from "../model/manifest.ts";
import { MAP_STYLES } from "../model/render.ts";
import { photoObject } from "./photos.ts";

/** Limits of requests, from the server configuration and the model. */
export interface Limits {
  /** Images per request (and per onnxruntime run). */
  maxBatch: number;
  /** Largest side of a returned picture, in pixels. */
  maxImageSize: number;
  /** The model's latent length Z. */
  latent: number;
  /** The model's target-layer channels M. */
  channels: number;
  /** The model's image side S (the default picture size). */
  resolution: number;
  /** Most pixels of an uploaded photo. */
  maxPhotoPixels: number;
}

/** The smallest picture side a request may ask for. */
export const MIN_IMAGE_SIZE = 16;

/** Largest magnitude of an explicit latent value (latents are drawn from N(0, 1)). */
export const MAX_LATENT_VALUE = 100;

/** A path or query integer in [min, max], written in decimal digits. */
export function integerString(min: number, max: number, description: string) {
  const range = `must be an integer in ${min}..${max}`;
  return z.string()
    .regex(/^(0|[1-9][0-9]*)$/, `${range}, in decimal digits without a sign or leading zeros`)
    .transform(Number)
    .pipe(z.number().int().min(min, range).max(max, range))
    // The value is an integer to clients: generated ones then take numbers for it.
    .meta({ parameterSchema: { type: "integer", minimum: min, maximum: max } })
    .describe(`${description} (an integer in ${min}..${max})`);
}

/** A seed in a path: an unsigned 32-bit integer. */
export const seedString = integerString(0, MAX_SEED, "seed of the latent");

/** A seed in a JSON body. */
export const seedNumber = z.number().int().min(0).max(MAX_SEED).describe(
  `seed of the latent (an integer in 0..${MAX_SEED})`,
);

/** The truncation psi in a query: the latent is scaled by it. */
export const truncationString = z.string()
  // As clients write numbers: 0.5, .5, 5e-1 (JavaScript's String(1e-7) is "1e-7").
  .regex(/^([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?$/i, "must be a decimal number in (0, 1]")
  .transform(Number)
  .pipe(z.number().gt(0).lte(1))
  .meta({ parameterSchema: { type: "number", exclusiveMinimum: 0, maximum: 1 } })
  .optional()
  .describe("truncation psi in (0, 1]: the latent is scaled by it (default 1, no truncation)");

/** The truncation psi in a JSON body. */
export const truncationNumber = z.number().gt(0).lte(1).optional().describe(
  "truncation psi in (0, 1]: the latent is scaled by it (default 1)",
);

/** The side of the returned picture, in a query. */
export function sizeString(limits: Limits) {
  return integerString(
    MIN_IMAGE_SIZE,
    limits.maxImageSize,
    "side of the returned picture in pixels",
  )
    .optional()
    .describe(
      `side of the returned picture in pixels, ${MIN_IMAGE_SIZE}..${limits.maxImageSize} ` +
        `(default ${limits.resolution}, the model's resolution)`,
    );
}

/** The side of the returned pictures, in a JSON body. */
export function sizeNumber(limits: Limits) {
  return z.number().int().min(MIN_IMAGE_SIZE).max(limits.maxImageSize).optional().describe(
    `side of the returned pictures in pixels (default ${limits.resolution})`,
  );
}

/** How a map is drawn, in a query. */
export const mapStyle = z.enum(MAP_STYLES).default("heat").describe(
  "heat: the map in colour; overlay: over the image; contour: the region outlined (paper Fig. 3)",
);

/** A latent given explicitly: Z finite numbers. */
export function latentArray(limits: Limits) {
  return z.array(z.number().min(-MAX_LATENT_VALUE).max(MAX_LATENT_VALUE))
    .length(limits.latent)
    .describe(`a latent: ${limits.latent} numbers in [-${MAX_LATENT_VALUE}, ${MAX_LATENT_VALUE}]`);
}

/** An image in a JSON body: a seed, an explicit latent, or a photo to encode. */
export function imageSource(limits: Limits) {
  return z.union([
    seedNumber,
    z.strictObject({ latent: latentArray(limits) }),
    photoObject(limits.maxPhotoPixels),
  ], {
    error: 'must be a seed (an integer), {"latent": [...]} or {"image": "<base64 JPEG or PNG>"}',
  }).describe(
    'an image: its seed, {"latent": [...]}, or a photo {"image": "<base64 JPEG or PNG>"} ' +
      "that the model's encoder turns into a latent",
  );
}

/** A group id or label (a label names all its groups together). */
export const groupName = z.string().regex(
  new RegExp(`^${CONCEPT_NAME}$`),
  "must be a group id or label",
);

/** A concept list in a query: group ids, labels or `face`, comma-separated. */
export const conceptsString = z.string()
  .regex(
    new RegExp(`^ *${CONCEPT_NAME} *(?:, *${CONCEPT_NAME} *)*$`),
    "must be group ids, labels or face, separated by commas",
  )
  .transform((text) => text.split(",").map((name) => name.trim()))
  .describe(
    "concept groups: ids, labels or face, comma-separated (e.g. face, 3,7 or mouth,face skin)",
  );

/** A group in a JSON body: its id or label. */
export const groupRef = z.union([groupName, z.number().int().min(0)], {
  error: "must be a group id (an integer from 0) or a label",
});

/** A concept list in a JSON body. */
export const conceptsArray = z.array(groupRef)
  .min(1)
  .transform((names) => names.map(String))
  .describe('concept groups: ids, labels or "face"');

/** A generated image as base64 PNG in JSON. */
export const pngBase64 = z.string().describe("a PNG file, base64-encoded");
