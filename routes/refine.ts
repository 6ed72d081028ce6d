/**
 * Langevin refinement over HTTP (the paper's Fig. 7): `POST /v1/refine` for
 * one image, and the `refine` option of `POST /v1/swap` for a swapped pair
 * (both run as renderer jobs: `model/langevin.ts`).
 *
 * @module
 */

import { z } from "zod";
import type { ServedModel } from "../model/model.ts";
import { langevinSettings } from "../model/langevin.ts";
import type { Renderer } from "../model/renderer.ts";
import { floatsOf } from "../model/jobs.ts";
import { pngBase64Of } from "./respond.ts";
import {
  imageSource,
  type Limits,
  pngBase64,
  seedNumber,
  sizeNumber,
  truncationNumber,
} from "./schemas.ts";
import { refuseFitWithLangevin, withField } from "./photos.ts";
import { defineRoute, PROBLEM_RESPONSE, type RouteSpec } from "./route.ts";

/** Most Langevin steps a request may ask for. */
export const MAX_LANGEVIN_STEPS = 200;

/** The chain's settings in a JSON body, defaults from the model's training. */
export function langevinOptions(model: ServedModel) {
  const trained = model.manifest.energy;
  return z.strictObject({
    steps: z.number().int().min(1).max(MAX_LANGEVIN_STEPS).optional().describe(
      `Langevin steps, 1..${MAX_LANGEVIN_STEPS} (default ${trained?.steps ?? "the model's"}, ` +
        "as the model trained)",
    ),
    stepSize: z.number().gt(0).lte(1).optional().describe(
      `delta: the drift is delta^2 / 2 times the gradient, the noise delta U (default ${
        trained?.stepSize ?? "the model's"
      })`,
    ),
    seed: seedNumber.default(0).describe("seed of the chain's noise (default 0)"),
  }).describe("Langevin dynamics on g_W(f(z)) - |z|^2 / (2 sigma^2), as the model trained it");
}

/** The refinement route. */
export function refineRoutes(model: ServedModel, renderer: Renderer, limits: Limits): RouteSpec[] {
  const refined = z.object({
    latent: z.array(z.number()).describe("the revised latent"),
    before: pngBase64.describe("the image before the chain"),
    after: pngBase64.describe("the image of the revised latent"),
    energy: z.object({ before: z.number(), after: z.number() }).describe("g_W before and after"),
  });
  return [
    defineRoute({
      method: "post",
      path: "/v1/refine",
      operationId: "refineLatents",
      tag: "photos",
      summary: "Revise an image's latent by Langevin dynamics on the energy model",
      description: "The paper's Fig. 7a: T steps of z <- z + (delta^2 / 2) d/dz [g_W(f(z)) - " +
        "|z|^2 / (2 sigma^2)] + delta U from a seed, a latent or a photo, so the image becomes " +
        "more probable under the energy model. For a swapped pair (Fig. 7b) give refine to " +
        "POST /v1/swap. 501 for models without an energy model (baselines).",
      body: z.strictObject({
        image: imageSource(limits),
        refine: langevinOptions(model).default({ seed: 0 }),
        truncation: truncationNumber,
        size: sizeNumber(limits),
      }),
      responses: {
        200: { description: "the revised image", contentType: "application/json", schema: refined },
        400: PROBLEM_RESPONSE,
        413: PROBLEM_RESPONSE,
        415: PROBLEM_RESPONSE,
        501: PROBLEM_RESPONSE,
      },
      handler: async ({ body, signal }) => {
        refuseFitWithLangevin({ "body.image": body.image });
        const result = await renderer.run({
          kind: "refine",
          source: withField(body.image, "body.image"),
          truncation: body.truncation,
          settings: langevinSettings(model, body.refine),
          size: body.size ?? limits.resolution,
        }, signal);
        const [before, after] = floatsOf(result.energy);
        return Response.json({
          latent: Array.from(floatsOf(result.latent)),
          before: pngBase64Of(result.before),
          after: pngBase64Of(result.after),
          energy: { before, after },
        });
      },
    }),
  ];
}
