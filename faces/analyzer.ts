/**
 * The face networks that measurements need, on batches of planar images
 * `[n, 3, S, S]` in [-1, 1] (as the generator's tail gives them): a face
 * descriptor for verification and realism, 68 landmarks for part masks,
 * and whether a face is detected at all.
 *
 * @module
 */

import { inRowBatches } from "../core/row_batches.ts";

/** Length of a face descriptor. */
export const DESCRIPTOR_SIZE = 128;

/** Face networks; one owner calls {@link FaceAnalyzer.dispose} when done. */
export interface FaceAnalyzer {
  /** Descriptors `[n, 128]` of the images, each taken whole as the face. */
  descriptors(images: Float32Array, n: number, size: number): Promise<Float32Array>;
  /** 68 landmarks per image, `[n, 136]` as x, y in pixels of the S x S image. */
  landmarks(images: Float32Array, n: number, size: number): Promise<Float32Array>;
  /** Whether the face detector finds a face in each image. */
  detections(images: Float32Array, n: number, size: number): Promise<boolean[]>;
  /** Frees the networks. */
  dispose(): void;
}

/** Images per descriptor call: the analyser's wasm memory does not hold hundreds at once. */
const DESCRIPTOR_BATCH = 16;

/** {@link FaceAnalyzer.descriptors} of any number of images, in batches the analyser holds. */
export async function descriptorsInBatches(
  analyzer: FaceAnalyzer,
  images: Float32Array,
  n: number,
  size: number,
): Promise<Float32Array> {
  return await inRowBatches(
    images,
    n,
    DESCRIPTOR_BATCH,
    (batch, m) => analyzer.descriptors(batch, m, size),
  );
}
