/**
 * Face verification by descriptor distance: an identity list (the format of
 * CelebA's `identity_CelebA.txt`: `<file> <person id>` per line), pairs of
 * images of one person and of two, and the distance threshold that separates
 * them best, with its accuracy.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { permutation } from "../core/host_random.ts";
import { UserError } from "../core/user_error.ts";

/** A malformed identity list, or one that does not match the image folder. */
export class IdentityListError extends UserError {
  override name = "IdentityListError";
}

/** The identity list beside a folder of faces: `<folder>-identity.txt`. */
export function defaultIdentities(data: string): string {
  const folder = data.replace(/\/+$/, "");
  return join(dirname(folder), `${basename(folder)}-identity.txt`);
}

/** Parses an identity list into file name -> person id. */
export function parseIdentityList(text: string, source: string): Map<string, string> {
  const identities = new Map<string, string>();
  text.split("\n").forEach((line, k) => {
    const trimmed = line.trim();
    if (trimmed === "") return;
    const match = /^(\S+)\s+(\S+)$/.exec(trimmed);
    if (!match) {
      throw new IdentityListError(
        `${source}:${k + 1}: expected "<image file> <person id>", got "${trimmed.slice(0, 60)}".`,
      );
    }
    identities.set(match[1], match[2]);
  });
  if (identities.size === 0) throw new IdentityListError(`${source} lists no images.`);
  return identities;
}

/** The Euclidean distance between descriptors `i` of `a` and `j` of `b` (rows of length d). */
export function descriptorDistance(
  a: Float32Array,
  i: number,
  b: Float32Array,
  j: number,
  d: number,
): number {
  let sum = 0;
  for (let k = 0; k < d; k++) sum += (a[i * d + k] - b[j * d + k]) ** 2;
  return Math.sqrt(sum);
}

/** Pairs of indices into a list of images: of one person, and of two. */
export interface VerificationPairs {
  same: [number, number][];
  different: [number, number][];
}

/**
 * Up to `count` pairs of each kind among `files` (indices into it), chosen
 * with `random`: all same-person pairs when there are fewer.
 */
export function verificationPairs(
  files: readonly string[],
  identities: ReadonlyMap<string, string>,
  count: number,
  random: () => number,
): VerificationPairs {
  const byPerson = new Map<string, number[]>();
  files.forEach((file, index) => {
    const person = identities.get(file);
    if (person === undefined) return;
    byPerson.set(person, [...(byPerson.get(person) ?? []), index]);
  });
  const same: [number, number][] = [];
  for (const indices of byPerson.values()) {
    for (let a = 0; a < indices.length; a++) {
      for (let b = a + 1; b < indices.length; b++) same.push([indices[a], indices[b]]);
    }
  }
  const chosenSame = [...permutation(same.length, random)].slice(0, count).map((k) => same[k]);
  const listed = files.flatMap((file, index) => (identities.has(file) ? [index] : []));
  const different: [number, number][] = [];
  for (let tries = 0; different.length < count && tries < 20 * count; tries++) {
    const a = listed[Math.floor(random() * listed.length)];
    const b = listed[Math.floor(random() * listed.length)];
    if (identities.get(files[a]) !== identities.get(files[b])) different.push([a, b]);
  }
  return { same: chosenSame, different };
}

/** A verification threshold and how well it separates the calibration pairs. */
export interface Calibration {
  /** Distances below it are judged one person. */
  threshold: number;
  /** Mean of the accuracies on same-person and on different-person pairs. */
  accuracy: number;
  pairs: { same: number; different: number };
}

/** The threshold that maximises balanced accuracy on these distances. */
export function calibrateThreshold(
  same: readonly number[],
  different: readonly number[],
): Calibration {
  if (same.length === 0 || different.length === 0) {
    throw new IdentityListError(
      `calibration needs pairs of one person and of two; got ${same.length} and ${different.length}.`,
    );
  }
  const candidates = [...new Set([...same, ...different])].sort((a, b) => a - b);
  let best = { threshold: 0, accuracy: 0.5 };
  for (let k = 0; k < candidates.length; k++) {
    const t = k + 1 < candidates.length
      ? (candidates[k] + candidates[k + 1]) / 2
      : candidates[k] + 1e-6;
    const accuracy = (same.filter((d) => d < t).length / same.length +
      different.filter((d) => d >= t).length / different.length) / 2;
    if (accuracy > best.accuracy) best = { threshold: t, accuracy };
  }
  return { ...best, pairs: { same: same.length, different: different.length } };
}
