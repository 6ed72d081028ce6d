/**
 * Real faces to measure generated ones against: seeded, disjoint random
 * subsets of the images under a folder, centre-cropped and resized to the
 * model's resolution (as training sees them), as planar [n, 3, S, S] images
 * in [-1, 1].
 *
 * @module
 */

import { resolve } from "node:path";
import { listFolder } from "../core/files.ts";
import { permutation } from "../core/host_random.ts";
import { ImageDecodeError, photoPixels } from "../core/image.ts";
import { UserError } from "../core/user_error.ts";

/** A folder that cannot give the real faces asked for. */
export class RealFacesError extends UserError {
  override name = "RealFacesError";
}

/** Some real faces as planar images. */
export interface RealFaces {
  images: Float32Array;
  count: number;
}

const IMAGE_FILE = /\.(jpe?g|png)$/i;

/** The image files under `folder` (JPEG and PNG by name), sorted. */
export async function imageFiles(folder: string): Promise<string[]> {
  const root = resolve(folder);
  const listed = await listFolder(root);
  if (typeof listed === "string") {
    throw new RealFacesError(`the folder of real faces ${root} ${listed}; pass --data a folder.`);
  }
  const files = listed.map((f) => f.path).filter((p) => IMAGE_FILE.test(p));
  if (files.length === 0) {
    throw new RealFacesError(`${root} holds no JPEG or PNG images; pass a folder of faces.`);
  }
  return files;
}

/**
 * Disjoint subsets of `files` of the sizes `counts`, chosen with `random`;
 * throws when the folder has fewer images than they need together.
 */
export function disjointSubsets(
  files: readonly string[],
  counts: readonly number[],
  random: () => number,
): string[][] {
  const needed = counts.reduce((a, b) => a + b, 0);
  if (files.length < needed) {
    throw new RealFacesError(
      `the folder holds ${files.length} images; this measurement needs ${needed} ` +
        "(measure fewer images or pairs).",
    );
  }
  const order = permutation(files.length, random);
  let at = 0;
  return counts.map((count) => {
    const chosen = Array.from(order.subarray(at, at + count), (k) => files[k]);
    at += count;
    return chosen;
  });
}

/** Reads `files` at `size` x `size` as planar images in [-1, 1]. */
export async function readRealFaces(files: readonly string[], size: number): Promise<RealFaces> {
  const plane = 3 * size * size;
  const images = new Float32Array(files.length * plane);
  for (const [i, file] of files.entries()) {
    try {
      images.set(photoPixels(await Deno.readFile(file), size), i * plane);
    } catch (error) {
      if (!(error instanceof ImageDecodeError)) throw error;
      throw new RealFacesError(`${file} is not a readable image: ${error.message}`);
    }
  }
  return { images, count: files.length };
}
