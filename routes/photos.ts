/**
 * Photos in requests: a raw JPEG or PNG body, a multipart form's `image`
 * file, or a base64 string in JSON. Each is checked from its header alone
 * before anything decodes it (a small file can claim a huge picture), and
 * decoded later by whoever draws the job (a render worker).
 *
 * @module
 */

import type { Context } from "hono";
import { z } from "zod";
import { ImageDecodeError, readImageHeader } from "../core/image.ts";
import { type ImageSource, isPhoto } from "../model/generation.ts";
import { DEFAULT_FIT_STEPS } from "../model/refine.ts";
import { HttpProblem, invalidField } from "./problem.ts";
import type { AppEnv } from "./route.ts";
import { readBody } from "./validation.ts";

/**
 * The content types of a raw photo body: JPEG and PNG, and the other names
 * clients send them under (a file's bytes are recognised by their signature,
 * whatever the name says): `image/jpg` and `image/pjpeg` from older
 * software, `application/octet-stream` from tools that do not know the type.
 */
export const PHOTO_TYPES = [
  "image/jpeg",
  "image/png",
  "image/jpg",
  "image/pjpeg",
  "application/octet-stream",
];

/**
 * Checks that `bytes` are a JPEG or PNG of at most `maxPixels` pixels, from
 * the header: a 400 naming `field` for anything else, a 413 for too many
 * pixels (before any decoding).
 */
export function checkPhoto(bytes: Uint8Array, field: string, maxPixels: number): Uint8Array {
  let header;
  try {
    header = readImageHeader(bytes);
  } catch (error) {
    if (!(error instanceof ImageDecodeError)) throw error;
    throw invalidField(field, `is not a readable JPEG or PNG photo: ${error.message}`);
  }
  const pixels = header.width * header.height;
  if (pixels > maxPixels) {
    throw new HttpProblem(
      "image-too-large",
      `${field} is ${header.width} x ${header.height} = ${pixels} pixels; at most ${maxPixels} ` +
        "are decoded (IGAN_MAX_PHOTO_PIXELS). Send a smaller photo: the model sees its centre " +
        "square at its own resolution anyway.",
      { errors: [{ field, message: `has ${pixels} pixels, over ${maxPixels}` }] },
    );
  }
  return bytes;
}

/**
 * The photo of an upload request: the raw body (one of {@link PHOTO_TYPES}),
 * or the `image` file of a `multipart/form-data` body; checked with
 * {@link checkPhoto}. Another content type is a 415.
 */
export async function readPhotoUpload(c: Context<AppEnv>, maxPixels: number): Promise<Uint8Array> {
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const form = type === "multipart/form-data";
  // No content type at all is what fetch sends for a File of unknown type: the bytes say.
  if (!form && type !== "" && !PHOTO_TYPES.includes(type)) {
    throw new HttpProblem(
      "unsupported-media-type",
      `the body is sent as "${type || "(no content type)"}"; send the photo as image/jpeg or ` +
        'image/png, or as the file "image" of a multipart/form-data body.',
    );
  }
  const bytes = await readBody(
    c,
    async () => form ? await formPhoto(c) : new Uint8Array(await c.req.arrayBuffer()),
  );
  return checkPhoto(bytes, "body", maxPixels);
}

async function formPhoto(c: Context<AppEnv>): Promise<Uint8Array> {
  let form: FormData;
  try {
    form = await c.req.raw.formData();
  } catch (error) {
    if (c.req.raw.signal.aborted) throw error;
    throw invalidField("body", `is not a readable multipart form: ${(error as Error).message}`);
  }
  for (const name of new Set(form.keys())) {
    if (name !== "image") {
      throw invalidField(
        `body.${name}`,
        'is not a field of the form, which holds the file "image" alone (options such as fit ' +
          "go in the query: ?fit=3)",
      );
    }
  }
  const files = form.getAll("image");
  if (files.length > 1) throw invalidField("body.image", `is given ${files.length} times`);
  const [file] = files;
  if (typeof file === "string") {
    throw invalidField(
      "body.image",
      "arrived as text, not a file: send the photo as a file (with a filename, as curl's " +
        "-F image=@face.jpg does)",
    );
  }
  if (!(file instanceof Blob)) {
    throw invalidField("body.image", 'is missing: send the photo as the form\'s file "image"');
  }
  return new Uint8Array(await file.arrayBuffer());
}

/** Most fitting steps a request may ask for, per photo. */
export const MAX_FIT_STEPS = 200;

/** What a photo's `fit` does, for the API's descriptions. */
export const FIT_DESCRIPTION =
  "gradient steps (Adam on the mean squared pixel error) that fit the " +
  "photo's target-layer maps to it after encoding, so that its own face, not the generator's " +
  `nearest one, is what swaps and maps show; 0..${MAX_FIT_STEPS}, default ${DEFAULT_FIT_STEPS} ` +
  "(0 on models without gradient files, and with refine, whose Langevin dynamics moves the " +
  "latent that fitted maps would be lost on: there it must be 0 or left out); each costs about " +
  "two generator runs";

/**
 * A photo's base64 as clients send it: bare, with line breaks (`base64`'s
 * default output), as a data URL (`data:image/jpeg;base64,...`, as a
 * browser's `FileReader` gives, `data:application/octet-stream;...` for a
 * file without a known type), in the URL-safe alphabet, or without padding.
 */
const photoBase64 = z.string()
  .transform((text) => {
    // Any media type, parameters or case (RFC 2397): the bytes say what the photo is.
    const bare = text.replace(/^data:[^,]*;base64,/i, "").replace(/\s+/g, "")
      .replaceAll("-", "+").replaceAll("_", "/");
    return bare + "=".repeat((4 - (bare.length % 4)) % 4);
  })
  .pipe(z.base64("must be a JPEG or PNG file in base64 (bare or as a data: URL)"))
  .describe("a JPEG or PNG photo of a face, base64-encoded (bare, or a data: URL)");

/**
 * A photo in a JSON body, `{"image": "<base64 JPEG or PNG>", "fit"?: n}`,
 * as `{photo: bytes, fit}`; checked with {@link checkPhoto} except that too
 * many pixels is a field error too (400), naming where it is.
 */
export function photoObject(maxPixels: number) {
  return z.strictObject({
    image: photoBase64,
    fit: z.number().int().min(0).max(MAX_FIT_STEPS).optional().describe(FIT_DESCRIPTION),
  }).transform(({ image, fit }, ctx) => {
    const bytes = Uint8Array.fromBase64(image);
    try {
      return { photo: checkPhoto(bytes, "image", maxPixels), fit };
    } catch (error) {
      if (!(error instanceof HttpProblem)) throw error;
      // At the base64 field: the union's error then names it rather than the seed's alternative.
      ctx.addIssue({
        code: "custom",
        path: ["image"],
        message: error.errors?.[0].message ?? error.message,
      });
      return z.NEVER;
    }
  }).describe(
    'a photo, {"image": "<base64 JPEG or PNG>"}: its centre square is encoded into a latent ' +
      "and the latent's maps fitted to it (see fit; " +
      `at most ${maxPixels} pixels; models without an encoder answer 501)`,
  );
}

/**
 * `source` with the request field it came in when it is a photo, so that a
 * failure to decode it (which only a render worker finds) names that field.
 */
export function withField(source: ImageSource, field: string): ImageSource {
  return isPhoto(source) ? { ...source, field } : source;
}

/**
 * Refuses a fit asked of a photo where Langevin dynamics moves latents (it
 * would be lost): a 400 naming the field.
 */
export function refuseFitWithLangevin(sources: Record<string, ImageSource>): void {
  for (const [field, source] of Object.entries(sources)) {
    if (isPhoto(source) && (source.fit ?? 0) > 0) {
      throw invalidField(
        `${field}.fit`,
        "does not apply with refine: Langevin dynamics moves the photo's encoded latent, and " +
          "fitted maps have no latent; leave fit out (or 0) to refine a photo",
      );
    }
  }
}
