/**
 * `POST /v1/encode`: a photo of a face in, its latent and its reconstruction
 * out (the encoding itself runs as a job of the renderer: `model/jobs.ts`).
 * The latent can be given to `POST /v1/swap` like any other; the photo itself,
 * as `{"image": "<base64>"}`, carries its fitted maps too (`fit`), so its own
 * face rather than the latent's look-alike.
 *
 * @module
 */

import { z } from "zod";
import type { ServedModel } from "../model/model.ts";
import { noEncoderError, noGradientsError } from "../model/sessions.ts";
import type { Renderer } from "../model/renderer.ts";
import { floatsOf } from "../model/jobs.ts";
import { pngBase64Of } from "./respond.ts";
import { integerString, type Limits, pngBase64, sizeString } from "./schemas.ts";
import { FIT_DESCRIPTION, MAX_FIT_STEPS } from "./photos.ts";
import { photoFitSteps } from "../model/generation.ts";
import { defineRoute, PROBLEM_RESPONSE, type RouteSpec } from "./route.ts";

/** Most refinement steps a request may ask for. */
export const MAX_REFINE_STEPS = 200;

/** The encoding route. */
export function encodeRoutes(model: ServedModel, renderer: Renderer, limits: Limits): RouteSpec[] {
  const encoded = z.object({
    latent: z.array(z.number()).describe(
      `the photo's latent (${limits.latent} numbers), usable wherever latents are`,
    ),
    input: pngBase64.describe("the photo as the encoder saw it: its centre square, resized"),
    reconstruction: pngBase64.describe(
      "the generator's image of the photo: of its fitted maps (fit > 0), which swaps and maps " +
        'of the photo sent as {"image": ...} start from, or of the latent alone (fit = 0)',
    ),
  });
  return [
    defineRoute({
      method: "post",
      path: "/v1/encode",
      operationId: "encodePhoto",
      tag: "photos",
      summary: "Encode a photo of a face into the generator's latent space",
      description: "Send a JPEG or PNG as the raw body (Content-Type image/jpeg or image/png; " +
        "image/jpg, image/pjpeg, application/octet-stream or none are taken too, the bytes " +
        "telling which it is) or " +
        'as the file "image" of a multipart/form-data body. The centre square is resized to the ' +
        `model's ${limits.resolution} x ${limits.resolution} (faces cropped like the training ` +
        "data encode best). Answers the latent and the generator's reconstruction, drawn from the " +
        "latent's target-layer maps fitted to the photo (fit); the latent alone draws a " +
        'look-alike, so send the photo as {"image": ...} to swap its own face. 501 when the ' +
        `model has no encoder. At most ${limits.maxPhotoPixels} pixels, checked before decoding.`,
      query: z.strictObject({
        size: sizeString(limits),
        refine: integerString(0, MAX_REFINE_STEPS, "gradient steps from the encoder's latent")
          .optional()
          .describe(
            "gradient steps (Adam on the mean squared pixel error of the reconstruction) that " +
              `refine the encoder's latent towards the photo, 0..${MAX_REFINE_STEPS} (default 0); ` +
              "each costs about three generator runs",
          ),
        fit: integerString(0, MAX_FIT_STEPS, "fitting steps").optional().describe(FIT_DESCRIPTION),
      }),
      // Without an encoder the body is not even read: the answer is 501.
      upload: model.hasEncoder,
      responses: {
        200: { description: "the latent", contentType: "application/json", schema: encoded },
        400: PROBLEM_RESPONSE,
        413: PROBLEM_RESPONSE,
        415: PROBLEM_RESPONSE,
        501: PROBLEM_RESPONSE,
      },
      handler: async ({ query, photo, signal }) => {
        // Answered 501 by the app, before any work is queued.
        if (!model.hasEncoder) throw noEncoderError();
        const refine = query.refine ?? 0;
        const fit = photoFitSteps(model, query.fit);
        if (refine + fit > 0 && !model.hasGradients) throw noGradientsError("vjp");
        const result = await renderer.run({
          kind: "encode",
          photo: photo!,
          size: query.size ?? limits.resolution,
          refine,
          fit,
        }, signal);
        return Response.json({
          latent: Array.from(floatsOf(result.latent)),
          input: pngBase64Of(result.input),
          reconstruction: pngBase64Of(result.reconstruction),
        });
      },
    }),
  ];
}
