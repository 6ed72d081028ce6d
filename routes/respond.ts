/**
 * The model's results and errors as HTTP: PNG responses, base64 PNGs for
 * JSON answers, and concept names resolved as request fields (group ids for
 * jobs).
 *
 * @module
 */

import { type ServedModel, UnknownConceptError } from "../model/model.ts";
import type { ConceptGroup } from "../model/manifest.ts";
import { invalidField } from "./problem.ts";

/** A PNG response of encoded `png` bytes. */
export function pngResponse(png: Uint8Array): Response {
  return new Response(png as BodyInit, { headers: { "content-type": "image/png" } });
}

/** PNG bytes as base64, for JSON responses. */
export function pngBase64Of(bytes: Uint8Array): string {
  // Native: a 840 KB PNG took 30 ms through String.fromCharCode and btoa, which held the thread
  // that answers health checks; this takes 0.4 ms.
  return bytes.toBase64();
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

/** The ids of the groups `names` name (see {@link resolveConceptsField}). */
export function conceptIdsField(
  model: ServedModel,
  names: readonly string[],
  field: string,
): number[] {
  return resolveConceptsField(model, names, field).map((g) => g.id);
}
