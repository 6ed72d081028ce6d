/**
 * The model's results and errors as HTTP: PNG responses, base64 PNGs for
 * JSON answers, and concept names resolved as request fields.
 *
 * @module
 */

import { encodePng, type RgbImage } from "../core/image.ts";
import { type ServedModel, UnknownConceptError } from "../model/model.ts";
import type { ConceptGroup } from "../model/manifest.ts";
import { invalidField } from "./problem.ts";

/** A PNG response of `image`. */
export function pngResponse(image: RgbImage): Response {
  return new Response(encodePng(image) as BodyInit, { headers: { "content-type": "image/png" } });
}

/** `image` as base64 PNG, for JSON responses. */
export function pngBase64Of(image: RgbImage): string {
  const bytes = encodePng(image);
  let text = "";
  for (let k = 0; k < bytes.length; k += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
  }
  return btoa(text);
}

/** The groups `names` name; an unknown name is an invalid `field`. */
export function resolveConceptsField(
  model: ServedModel,
  names: readonly string[],
  field: string,
): ConceptGroup[] {
  try {
    return model.resolveConcepts(names);
  } catch (error) {
    if (error instanceof UnknownConceptError) throw invalidField(field, error.message);
    throw error;
  }
}
