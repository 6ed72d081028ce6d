/**
 * Measuring a model bundle as a user of face swaps meets it, through its
 * ONNX sessions (`deno task eval:faces`; the protocol is the paper's Tables 3
 * and 4, with a face verifier and landmark masks in place of ArcFace and
 * hand-drawn masks):
 *
 * 1. realism: Frechet and kernel distances between face descriptors of N
 *    generated images (seeds `seed`, `seed + 1`, ...) and N real ones at the
 *    model's resolution, beside the same distances between two disjoint sets
 *    of N real faces (the floor), and the share of images with a face found;
 * 2. concept names: each group named after the landmark part its region
 *    overlaps most (`naming.ts`); labels given by hand (or in the manifest)
 *    win over them, and so does a given face;
 * 3. identity: a verifier threshold calibrated on pairs of real faces of one
 *    person and of two (an identity list), then P face swaps (target image p,
 *    source image p + N/2): judged the source's person, the target's, closer
 *    to which; beside them a feathered pixel paste of the source's face, and
 *    how often two different generated faces are already judged one person
 *    (and the target's share among the pairs the verifier tells apart);
 * 4. locality: for the face swaps (the face's inner parts as the mask), then
 *    for mouth, eyes, nose, chin and every named group, P swaps of its groups,
 *    Out-MSE / In-MSE and the transfer inside the part's mask on the target.
 *
 * @module
 */

import { basename } from "node:path";
import { concatArrays } from "../core/concat.ts";
import { hostRandom } from "../core/host_random.ts";
import { groupCentres } from "../core/partition.ts";
import type { z } from "zod";
import type { Bundle } from "../model/bundle.ts";
import {
  channelGroups,
  type IdentityRowSchema,
  type IdentitySchema,
  type LocalityRowSchema,
  type Manifest,
  type RealismSchema,
} from "../model/manifest.ts";
import { latentsForSeeds } from "../model/latents.ts";
import { GeneratorSessions } from "../model/sessions.ts";
import { swapMaps, type SwapMode } from "../model/swap.ts";
import { DESCRIPTOR_SIZE, type FaceAnalyzer } from "./analyzer.ts";
import { frechetDistance, kernelDistance } from "./feature_distances.ts";
import { type GroupNaming, nameGroups } from "./naming.ts";
import { FACE_INNER_PARTS, FACE_PARTS, type FacePart, partLabelsOf, partMask } from "./parts.ts";
import { disjointSubsets, imageFiles, readRealFaces, RealFacesError } from "./real_faces.ts";
import { featherMask, localityOf, pasteImage, swapErrors } from "./swap_measures.ts";
import {
  calibrateThreshold,
  descriptorDistance,
  IdentityListError,
  parseIdentityList,
  verificationPairs,
} from "./verification.ts";

/** Options of {@link evaluateFaces}. */
export interface FaceEvaluationOptions {
  /** Folder of real faces. */
  data: string;
  /** Identity list of that folder (`<file> <person id>` lines). */
  identities: string;
  /** N: generated and real images for realism and naming (default {@link DEFAULT_FACE_IMAGES}). */
  images?: number;
  /** P: pairs per swap measurement (default 500). */
  pairs?: number;
  /** First seed of the generated images, and the seed of every random choice (default 1000000). */
  seed?: number;
  /** How the swaps exchange maps (default "groups", the paper's). */
  swapMode?: SwapMode;
  /** How the face swap exchanges maps (default: as `swapMode`). */
  faceSwapMode?: SwapMode;
  /** Labels by group id that win over the manifest's and the automatic ones. */
  labels?: Record<number, string>;
  /** The face's groups, winning over the manifest's and the automatic ones. */
  face?: number[];
  /** Reports each stage's progress. */
  onProgress?: (stage: string, done: number, total: number) => void;
}

/** Realism figures. */
export type RealismFigures = z.infer<typeof RealismSchema>;

/** What a verifier says of a set of swaps (or pastes). */
export type IdentityRow = z.infer<typeof IdentityRowSchema>;

/** Identity figures. */
export type IdentityFigures = z.infer<typeof IdentitySchema>;

/** One row of the locality table; its concept is a part name, or `group <id>` for a group's own. */
export type LocalityRow = z.infer<typeof LocalityRowSchema>;

/** A group's name as the evaluation used it. */
export interface NamedGroup extends GroupNaming {
  /** The label used: given, from the manifest, or found. */
  used: string | null;
  source: "given" | "manifest" | "found" | "none";
}

/** Everything {@link evaluateFaces} measures. */
export interface FaceEvaluation {
  images: number;
  pairs: number;
  seed: number;
  swapMode: SwapMode;
  /** The face swap's mode (the face's identity and locality rows). */
  faceSwapMode: SwapMode;
  realism: RealismFigures;
  naming: { groups: NamedGroup[]; face: number[] };
  identity: IdentityFigures | null;
  locality: LocalityRow[];
  seconds: number;
}

/** The paper's locality figures (Table 4), for the table. */
export const PAPER_LOCALITY: Record<string, Record<string, number>> = {
  "Interpretable BigGAN": { mouth: 0.0296, eyes: 0.0197, chin: 0.0311 },
  "Feature Collaging": { mouth: 0.1872, eyes: 0.1293, chin: 0.0576 },
};

/** The parts the locality table always has a row for (Table 4 and the nose). */
export const LOCALITY_PARTS: readonly FacePart[] = ["mouth", "eyes", "nose", "chin"];

/** The fewest images a measurement takes (KID's blocks and the naming need some). */
export const MIN_IMAGES = 20;

/** N when none is given: it takes 2N real faces (two disjoint sets of N). */
export const DEFAULT_FACE_IMAGES = 1000;

/** Images per ONNX run. */
const BATCH = 16;

/** A face analyzer's output for all `n` images, computed in batches with progress. */
async function inBatches<T extends Float32Array | boolean[]>(
  stage: string,
  n: number,
  run: (from: number, count: number) => Promise<T>,
  join: (parts: T[]) => T,
  onProgress: FaceEvaluationOptions["onProgress"],
): Promise<T> {
  const parts: T[] = [];
  onProgress?.(stage, 0, n);
  for (let from = 0; from < n; from += BATCH) {
    parts.push(await run(from, Math.min(BATCH, n - from)));
    onProgress?.(stage, Math.min(from + BATCH, n), n);
  }
  return join(parts);
}

const joinFloats = (parts: Float32Array[]) => concatArrays(Float32Array, parts);
const joinFlags = (parts: boolean[][]) => parts.flat();

/** Measures `bundle` against the real faces of `options.data`; see the module. */
export async function evaluateFaces(
  bundle: Bundle,
  analyzer: FaceAnalyzer,
  options: FaceEvaluationOptions,
): Promise<FaceEvaluation> {
  const started = performance.now();
  const n = options.images ?? DEFAULT_FACE_IMAGES, pairs = options.pairs ?? 500;
  const seed = options.seed ?? 1_000_000;
  const swapMode = options.swapMode ?? "groups";
  const faceSwapMode = options.faceSwapMode ?? swapMode;
  if (n < MIN_IMAGES) {
    throw new RangeError(`the measurement needs at least ${MIN_IMAGES} images, got ${n}.`);
  }
  if (pairs < 1) throw new RangeError(`the measurement needs at least one pair, got ${pairs}.`);
  const progress = options.onProgress;
  const { manifest } = bundle;
  const size = manifest.resolution, pixels = size * size, plane = 3 * pixels;
  const { channels, height, width } = manifest.target;
  const k = height * width, groups = manifest.groups.length;
  const assignment = channelGroups(manifest);

  // Real faces and the identity list first: a wrong folder fails before any long work.
  const { files, identities } = await readRealFaceSet(options.data, options.identities, {
    n,
    flag: "--images",
  });
  const [realA, realB] = disjointSubsets(files, [n, n], hostRandom(seed, 1));
  const names = files.map((f) => basename(f));
  const calibration = verificationPairs(names, identities, pairs, hostRandom(seed, 2));
  const calibrationFiles = [...new Set([...calibration.same, ...calibration.different].flat())];

  const sessions = await GeneratorSessions.open(bundle, { threads: 1 });
  try {
    // 1. Generated images, their group centres, landmarks and part labels.
    // Generated image i is seed + i's; the swaps recompute their maps from the latents rather
    // than keep N images' maps.
    const latentsOf = (images: readonly number[]) =>
      latentsForSeeds(images.map((i) => seed + i), manifest.latent);
    const centres = new Float32Array(n * groups * k);
    const generated = await inBatches(
      "generating",
      n,
      async (from, count) => {
        const images = Array.from({ length: count }, (_, i) => from + i);
        const maps = await sessions.head(latentsOf(images), count);
        centres.set(
          groupCentres(maps, [count, channels, k], assignment, groups),
          from * groups * k,
        );
        return await sessions.tail(maps, count);
      },
      joinFloats,
      progress,
    );
    const slice = (images: Float32Array, from: number, count: number) =>
      images.subarray(from * plane, (from + count) * plane);
    const landmarks = await inBatches(
      "landmarks",
      n,
      (from, count) => analyzer.landmarks(slice(generated, from, count), count, size),
      joinFloats,
      progress,
    );
    const labels = new Uint8Array(n * pixels);
    for (let i = 0; i < n; i++) {
      labels.set(partLabelsOf(landmarks, i, size), i * pixels);
    }

    // 2. Names.
    const found = nameGroups({ data: centres, shape: [n, groups, height, width] }, labels, size);
    const named: NamedGroup[] = found.groups.map((g) => {
      const given = options.labels?.[g.group], listedLabel = manifest.groups[g.group].label;
      const [used, source] = given !== undefined
        ? [given, "given" as const]
        : listedLabel !== null
        ? [listedLabel, "manifest" as const]
        : g.label !== null
        ? [g.label, "found" as const]
        : [null, "none" as const];
      return { ...g, used, source };
    });
    const face = options.face ?? manifest.face ?? found.face;

    // 3. Realism.
    const descriptorsOf = (stage: string, images: Float32Array, count: number) =>
      inBatches(
        stage,
        count,
        (from, m) => analyzer.descriptors(slice(images, from, m), m, size),
        joinFloats,
        progress,
      );
    const detectionsOf = (stage: string, images: Float32Array, count: number) =>
      inBatches(
        stage,
        count,
        (from, m) => analyzer.detections(slice(images, from, m), m, size),
        joinFlags,
        progress,
      );
    const generatedDescriptors = await descriptorsOf("descriptors (generated)", generated, n);
    const generatedFaces = await detectionsOf("detection (generated)", generated, n);
    const a = await readRealFaces(realA, size), b = await readRealFaces(realB, size);
    const realFaces = await detectionsOf("detection (real)", a.images, n);
    const realShare = share(realFaces);
    if (realShare < 0.5) {
      throw new RealFacesError(
        `a face was found in ${(100 * realShare).toFixed(0)}% of ${n} images under ` +
          `${options.data}: not a folder of faces.`,
      );
    }
    const aDescriptors = await descriptorsOf("descriptors (real)", a.images, n);
    const bDescriptors = await descriptorsOf("descriptors (real, floor)", b.images, n);
    const set = (data: Float32Array) => ({ data, n, d: DESCRIPTOR_SIZE });
    const kid = kernelDistance(set(generatedDescriptors), set(aDescriptors));
    const realKid = kernelDistance(set(aDescriptors), set(bDescriptors));
    const realism: RealismFigures = {
      fd: frechetDistance(set(generatedDescriptors), set(aDescriptors)),
      kid: kid.kid,
      kidStandardError: kid.standardError,
      realFd: frechetDistance(set(aDescriptors), set(bDescriptors)),
      realKid: realKid.kid,
      realKidStandardError: realKid.standardError,
      faceDetected: share(generatedFaces),
      realFaceDetected: realShare,
    };

    // 4. The verifier's threshold, on real pairs of one person and of two.
    const calibrationFaces = await readRealFaces(calibrationFiles.map((i) => files[i]), size);
    const calibrationDescriptors = await descriptorsOf(
      "descriptors (verifier calibration)",
      calibrationFaces.images,
      calibrationFiles.length,
    );
    const row = new Map(calibrationFiles.map((file, k) => [file, k]));
    const distance = ([i, j]: [number, number]) =>
      descriptorDistance(
        calibrationDescriptors,
        row.get(i)!,
        calibrationDescriptors,
        row.get(j)!,
        DESCRIPTOR_SIZE,
      );
    const same = calibration.same.map(distance), different = calibration.different.map(distance);
    const verifier = calibrateThreshold(same, different);

    // 5. Swaps: the face (identity) and each concept (locality), pair batch by pair batch.
    const targetOf = (p: number) => p % n, sourceOf = (p: number) => (p + Math.floor(n / 2)) % n;
    const concepts = localityConcepts(named);
    const noErrors = () => ({ inMse: 0, outMse: 0, before: 0, after: 0, count: 0 });
    const sums = concepts.map(noErrors), faceSums = noErrors();
    const imageOf = (i: number) => slice(generated, i, 1);
    /** Adds the errors of a swap of pair `p` (its image `i` of `images`) inside `mask` to `total`. */
    const addErrors = (
      total: typeof faceSums,
      p: number,
      images: Float32Array,
      i: number,
      mask: Float32Array,
    ) => {
      const errors = swapErrors(
        imageOf(targetOf(p)),
        slice(images, i, 1),
        imageOf(sourceOf(p)),
        mask,
      );
      total.inMse += errors.inMse;
      total.outMse += errors.outMse;
      total.before += errors.before;
      total.after += errors.after;
      total.count++;
    };
    const swapDescriptors: Float32Array[] = [], pasteDescriptors: Float32Array[] = [];
    const feather = Math.max(1, Math.round(size / 32));
    progress?.("swaps", 0, pairs);
    for (let from = 0; from < pairs; from += BATCH) {
      const count = Math.min(BATCH, pairs - from);
      const pairIds = Array.from({ length: count }, (_, i) => from + i);
      const z = latentsOf([...pairIds.map(targetOf), ...pairIds.map(sourceOf)]);
      const maps = await sessions.head(z, 2 * count);
      const mapsOf = (row: number) => maps.subarray(row * channels * k, (row + 1) * channels * k);
      const swapped = async (swappedGroups: readonly number[], mode: SwapMode) => {
        const groups = swappedGroups.map((g) => manifest.groups[g]);
        const rows = pairIds.map((_, i) => swapMaps(mapsOf(i), mapsOf(count + i), groups, k, mode));
        return await sessions.tail(concatArrays(Float32Array, rows), count);
      };
      const labelsOf = (i: number) => labels.subarray(i * pixels, (i + 1) * pixels);
      if (face.length > 0) {
        const faceSwaps = await swapped(face, faceSwapMode);
        swapDescriptors.push(await analyzer.descriptors(faceSwaps, count, size));
        pairIds.forEach((p, i) => {
          const mask = partMask(labelsOf(targetOf(p)), [...FACE_INNER_PARTS]);
          if (mask.some((v) => v > 0)) addErrors(faceSums, p, faceSwaps, i, mask);
        });
        const pastes = concatArrays(
          Float32Array,
          pairIds.map((p) => {
            const mask = partMask(labelsOf(sourceOf(p)), [...FACE_INNER_PARTS]);
            return pasteImage(
              imageOf(targetOf(p)),
              imageOf(sourceOf(p)),
              featherMask(mask, size, feather),
            );
          }),
        );
        pasteDescriptors.push(await analyzer.descriptors(pastes, count, size));
      }
      for (const [c, concept] of concepts.entries()) {
        if (concept.groups.length === 0) continue;
        const images = await swapped(concept.groups, swapMode);
        pairIds.forEach((p, i) => {
          const mask = partMask(labelsOf(targetOf(p)), [concept.part]);
          // Only where the part is drawn on the target.
          if (mask.some((v) => v > 0)) addErrors(sums[c], p, images, i, mask);
        });
      }
      progress?.("swaps", from + count, pairs);
    }

    const identity = face.length === 0 ? null : identityFigures({
      face,
      verifier,
      generatedDescriptors,
      swaps: concatArrays(Float32Array, swapDescriptors),
      pastes: concatArrays(Float32Array, pasteDescriptors),
      pairs,
      targetOf,
      sourceOf,
      realJudgedSame: different.filter((d) => d < verifier.threshold).length / different.length,
    });
    const localityRow = (
      concept: { name: string; part: string; groups: number[] },
      { count, ...total }: typeof faceSums,
    ): LocalityRow => {
      const mean = localityOf({
        inMse: total.inMse / count,
        outMse: total.outMse / count,
        before: total.before / count,
        after: total.after / count,
      });
      const known = (v: number) => (concept.groups.length > 0 && Number.isFinite(v) ? v : null);
      return {
        concept: concept.name,
        part: concept.part,
        groups: concept.groups,
        ratio: known(mean.ratio),
        transfer: known(mean.transfer),
        inMse: known(mean.inMse),
        outMse: known(mean.outMse),
      };
    };
    // The face swap's own row first: how much it changes around the face (its mask: the face's
    // inner parts on the target).
    const locality: LocalityRow[] = [
      ...(face.length > 0
        ? [localityRow({ name: "face", part: "face", groups: face }, faceSums)]
        : []),
      ...concepts.map((concept, c) => localityRow(concept, sums[c])),
    ];
    return {
      images: n,
      pairs,
      seed,
      swapMode,
      faceSwapMode,
      realism,
      naming: { groups: named, face },
      identity,
      locality,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await sessions.release();
  }
}

/** The manifest with the labels, face and figures of a face evaluation. */
export function manifestWithFaces(manifest: Manifest, faces: FaceEvaluation): Manifest {
  const naming = new Map(faces.naming.groups.map((g) => [g.group, g]));
  return {
    ...manifest,
    groups: manifest.groups.map((group) => {
      const found = naming.get(group.id);
      if (!found) return group;
      const { bestPart, score, lift, insideFace } = found;
      // A label read back from this manifest keeps how it was first found (a label the
      // earlier naming did not give, e.g. one written by hand, stays "manifest").
      const earlier = group.naming?.source;
      const source = found.source === "manifest" && earlier && earlier !== "none"
        ? earlier
        : found.source;
      return {
        ...group,
        label: found.used,
        naming: { bestPart, score, lift, insideFace, source },
      };
    }),
    face: faces.naming.face,
    faces: {
      images: faces.images,
      pairs: faces.pairs,
      seed: faces.seed,
      swapMode: faces.swapMode,
      ...(faces.faceSwapMode !== faces.swapMode ? { faceSwapMode: faces.faceSwapMode } : {}),
      realism: faces.realism,
      identity: faces.identity,
      locality: faces.locality,
    },
  };
}

/** The share of true flags. */
function share(flags: readonly boolean[]): number {
  return flags.filter(Boolean).length / Math.max(1, flags.length);
}

/**
 * The real faces' files under `data` and their identity list (image name ->
 * person), checked to be that folder's and to hold the 2N faces a measurement
 * of N images takes (`images.flag` sets N): a {@link RealFacesError} or
 * {@link IdentityListError} before any long work.
 */
export async function readRealFaceSet(
  data: string,
  identitiesPath: string,
  images: { n: number; flag: string },
): Promise<{ files: string[]; identities: Map<string, string> }> {
  const files = await imageFiles(data);
  const { n, flag } = images;
  if (files.length < 2 * n) {
    throw new RealFacesError(
      `the face measurement takes ${2 * n} real faces (twice ${flag}, ${n}), and ${data} holds ` +
        `${files.length}: give ${flag} ${Math.floor(files.length / 2)} or fewer.`,
    );
  }
  const identities = parseIdentityList(await readIdentityList(identitiesPath), identitiesPath);
  const listed = files.filter((file) => identities.has(basename(file))).length;
  if (listed < files.length / 2) {
    throw new IdentityListError(
      `${identitiesPath} lists ${listed} of the ${files.length} images under ` +
        `${data}: it is not that folder's identity list.`,
    );
  }
  return { files, identities };
}

async function readIdentityList(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new IdentityListError(
        `the identity list ${path} does not exist; pass --identities <file> (lines of ` +
          "<image file name> <person id>).",
      );
    }
    throw error;
  }
}

/** A row of the locality table to measure: a part and the groups that draw it. */
interface LocalityConcept {
  name: string;
  part: FacePart;
  groups: number[];
}

/** Mouth, eyes, nose and chin (their groups by label), then each named group alone. */
export function localityConcepts(named: readonly NamedGroup[]): LocalityConcept[] {
  const isPart = (label: string | null): label is FacePart =>
    label !== null && (FACE_PARTS as readonly string[]).includes(label);
  const rows: LocalityConcept[] = LOCALITY_PARTS.map((part) => ({
    name: part,
    part,
    groups: named.filter((g) => g.used === part).map((g) => g.group),
  }));
  for (const g of named) {
    if (isPart(g.used)) rows.push({ name: `group ${g.group}`, part: g.used, groups: [g.group] });
  }
  return rows;
}

/** An edited image's descriptor distances to its pair's source and target. */
export interface PairDistances {
  toSource: number;
  toTarget: number;
}

/**
 * The identity row of edited images, one a pair, at the verifier's
 * `threshold`; `alike` marks the pairs whose own two faces it judges one
 * person (without it, `judgedTargetDistinct` is null).
 */
export function identityRow(
  pairs: readonly PairDistances[],
  threshold: number,
  alike?: readonly boolean[],
): IdentityRow {
  let source = 0, target = 0, targetDistinct = 0, closer = 0, toSource = 0, toTarget = 0;
  pairs.forEach(({ toSource: ds, toTarget: dt }, p) => {
    if (ds < threshold) source++;
    if (dt < threshold) target++;
    if (dt < threshold && alike && !alike[p]) targetDistinct++;
    if (ds < dt) closer++;
    toSource += ds;
    toTarget += dt;
  });
  const n = pairs.length, distinct = alike ? alike.filter((a) => !a).length : 0;
  return {
    judgedSource: source / n,
    judgedTarget: target / n,
    judgedTargetDistinct: distinct > 0 ? targetDistinct / distinct : null,
    closerToSource: closer / n,
    meanToSource: toSource / n,
    meanToTarget: toTarget / n,
  };
}

/**
 * The identity figures of face swaps and pastes of P pairs. Where the
 * verifier already judges a pair's two faces one person, even a swap that
 * draws the source exactly is judged the target's; `judgedTargetDistinct`
 * counts only the pairs it tells apart, where judged the target's means the
 * swap kept the target's likeness.
 */
export function identityFigures(input: {
  face: number[];
  verifier: ReturnType<typeof calibrateThreshold>;
  generatedDescriptors: Float32Array;
  swaps: Float32Array;
  pastes: Float32Array;
  pairs: number;
  targetOf: (p: number) => number;
  sourceOf: (p: number) => number;
  realJudgedSame: number;
}): IdentityFigures {
  const { verifier, generatedDescriptors: g, pairs, targetOf, sourceOf } = input;
  const d = DESCRIPTOR_SIZE, t = verifier.threshold;
  const alike = Array.from(
    { length: pairs },
    (_, p) => descriptorDistance(g, targetOf(p), g, sourceOf(p), d) < t,
  );
  const generatedSame = alike.filter(Boolean).length;
  const row = (edited: Float32Array): IdentityRow =>
    identityRow(
      Array.from({ length: pairs }, (_, p) => ({
        toSource: descriptorDistance(edited, p, g, sourceOf(p), d),
        toTarget: descriptorDistance(edited, p, g, targetOf(p), d),
      })),
      t,
      alike,
    );
  return {
    threshold: t,
    accuracy: verifier.accuracy,
    samePairs: verifier.pairs.same,
    differentPairs: verifier.pairs.different,
    face: input.face,
    swap: row(input.swaps),
    paste: row(input.pastes),
    generatedJudgedSame: generatedSame / pairs,
    realJudgedSame: input.realJudgedSame,
  };
}
