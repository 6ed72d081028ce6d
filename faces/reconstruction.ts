/**
 * How close reconstructions are to their photos: PSNR, and how often the
 * face verifier judges a reconstruction the photo's person.
 *
 * @module
 */

import { DESCRIPTOR_SIZE, descriptorsInBatches, type FaceAnalyzer } from "./analyzer.ts";
import { descriptorDistance } from "./verification.ts";

/**
 * The PSNR in dB of each of `n` planar images in [-1, 1] against its
 * reference (the peak is the full range, so the error is taken on [0, 1]).
 */
export function psnrs(images: Float32Array, references: Float32Array, n: number): number[] {
  const size = images.length / n;
  return Array.from({ length: n }, (_, k) => {
    let sum = 0;
    for (let i = k * size; i < (k + 1) * size; i++) sum += ((images[i] - references[i]) / 2) ** 2;
    return 10 * Math.log10(1 / Math.max(sum / size, 1e-12));
  });
}

/** Figures of reconstructions of held-out photos. */
export interface ReconstructionFigures {
  /** Photos measured. */
  images: number;
  /** Mean PSNR in dB. */
  psnr: number;
  /** Share judged the photo's person by the verifier (null without a threshold). */
  judgedSame: number | null;
  /** Mean descriptor distance of reconstruction to photo. */
  meanDistance: number;
}

/** How often the verifier judges images the person of their photos, and how far they are. */
export interface LikenessFigures {
  /** Share judged the photo's person (null without a threshold). */
  judgedSame: number | null;
  /** Mean descriptor distance of image to photo. */
  meanDistance: number;
}

/**
 * {@link LikenessFigures} of image k (descriptors `images`) against photo k
 * (descriptors `photos`), `n` of each; `threshold` is the verifier's.
 */
export function likenessFigures(
  photos: Float32Array,
  images: Float32Array,
  n: number,
  threshold: number | null,
): LikenessFigures {
  const distances = Array.from(
    { length: n },
    (_, k) => descriptorDistance(photos, k, images, k, DESCRIPTOR_SIZE),
  );
  return {
    judgedSame: threshold === null ? null : distances.filter((d) => d < threshold).length / n,
    meanDistance: distances.reduce((s, v) => s + v, 0) / n,
  };
}

/**
 * Measures reconstructions (planar [n, 3, S, S] in [-1, 1]) of `photos`;
 * `threshold` is the verifier's (distances below it are one person). The
 * photos' descriptors are computed unless given.
 */
export async function reconstructionFigures(
  analyzer: FaceAnalyzer,
  photos: Float32Array,
  reconstructions: Float32Array,
  n: number,
  size: number,
  threshold: number | null,
  photoDescriptors?: Float32Array,
): Promise<ReconstructionFigures> {
  const a = photoDescriptors ?? await descriptorsInBatches(analyzer, photos, n, size);
  const b = await descriptorsInBatches(analyzer, reconstructions, n, size);
  const psnr = psnrs(reconstructions, photos, n).reduce((s, v) => s + v, 0) / n;
  return { images: n, psnr, ...likenessFigures(a, b, n, threshold) };
}
