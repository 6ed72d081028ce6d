/**
 * `deno task eval:langevin --model <bundle>`: what Langevin refinement (the
 * paper's Fig. 7, `model/langevin.ts`, as `POST /v1/refine` and the swap's
 * `refine` run it) does to what users see:
 *
 * - realism: descriptor FD against real faces of N generated images before
 *   and after T steps each (Fig. 7a), and FD between the two sets;
 * - face swaps of P pairs, before and after a chain on each pair (Fig. 7b):
 *   identity (judged the source's / the target's person with the manifest's
 *   verifier threshold, closer to the source) and locality (Out-MSE /
 *   In-MSE and transfer inside the face, against the unrefined images).
 *
 * Prints one JSON object as the last line.
 *
 * Exit status: 0 done, 1 error, 2 bad command line.
 *
 * @module
 */

import { concatArrays } from "../../core/concat.ts";
import { Progress } from "../../core/progress.ts";
import { swapMaps } from "../../core/swap_maps.js";
import { identityRow, MIN_IMAGES, type PairDistances } from "../../faces/evaluate.ts";
import { DESCRIPTOR_SIZE, descriptorsInBatches } from "../../faces/analyzer.ts";
import { openFaceApi } from "../../faces/face_api.ts";
import { frechetDistance } from "../../faces/feature_distances.ts";
import { FACE_INNER_PARTS, partLabelsOf, partMask } from "../../faces/parts.ts";
import { imageFiles, readRealFaces, RealFacesError } from "../../faces/real_faces.ts";
import { localityOf, meanErrors, type SwapErrors, swapErrors } from "../../faces/swap_measures.ts";
import { descriptorDistance } from "../../faces/verification.ts";
import { DEFAULT_MODEL, faceGroups } from "../../model/bundle.ts";
import { langevinLatents, langevinPairs, langevinSettings } from "../../model/langevin.ts";
import { latentsForSeeds } from "../../model/latents.ts";
import { ServedModel } from "../../model/model.ts";
import {
  integerFlag,
  parseFlags,
  runCommandLine,
  seedFlag,
  swapModeFlag,
  UsageError,
} from "../../training/command_line.ts";
import { defaultSwapMode, type SwapMode } from "../../model/swap.ts";
import { DEFAULT_DATA } from "./faces.ts";

const USAGE = `Usage: deno task eval:langevin [--model <bundle-folder>] [options]

  --model <folder>        the bundle (an interpretable model's, with energy.onnx) [model/default]
  --data <folder>         real faces [${DEFAULT_DATA}]
  --images <n>            N, generated images for realism, at least ${MIN_IMAGES} [500]
  --pairs <n>             P, face-swap pairs [200]
  --steps <n>             T, Langevin steps [the model's training setting]
  --seed <n>              first seed of the generated images [1000000]
  --swap-mode <mode>      groups, region or wide [the face swap's mode of the manifest's figures]
  -h, --help              this text`;

/** The parsed command line. */
interface LangevinCommand {
  model: string | URL;
  data: string;
  images: number;
  pairs: number;
  steps?: number;
  seed: number;
  swapMode?: SwapMode;
}

function parseArgs(args: string[]): LangevinCommand | "help" {
  const v = parseFlags(args, {
    model: { type: "string" },
    data: { type: "string" },
    images: { type: "string" },
    pairs: { type: "string" },
    steps: { type: "string" },
    seed: { type: "string" },
    "swap-mode": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (v.help) return "help";
  const images = integerFlag("images", v.images) ?? 500,
    pairs = integerFlag("pairs", v.pairs) ?? 200;
  if (images < MIN_IMAGES) throw new UsageError(`--images must be at least ${MIN_IMAGES}.`);
  if (pairs < 1) throw new UsageError("--pairs must be at least 1.");
  const steps = integerFlag("steps", v.steps);
  if (steps === 0) throw new UsageError("--steps must be at least 1.");
  return {
    model: v.model ?? DEFAULT_MODEL,
    data: v.data ?? DEFAULT_DATA,
    images,
    pairs,
    steps,
    seed: seedFlag(v.seed) ?? 1_000_000,
    swapMode: swapModeFlag(v["swap-mode"]),
  };
}

/** Rows per onnxruntime run. */
const BATCH = 16;

async function run(command: LangevinCommand): Promise<void> {
  // The face networks before the model: when they cannot load, there is no model to release.
  const analyzer = await openFaceApi();
  const model = await ServedModel.load(command.model, {
    threads: 1,
    maxBatch: 2 * BATCH,
    maxQueuedRows: 4 * BATCH,
  });
  try {
    const { manifest } = model;
    // The model's own settings; a bundle without its VJPs or energy model is told which.
    const settings = langevinSettings(model, { steps: command.steps, seed: 0 });
    const threshold = manifest.faces?.identity?.threshold;
    // Every run swaps faces (--pairs is at least 1): a bundle without a face says so first.
    const face = faceGroups(manifest, command.model).map((g) => g.id);
    const mode = command.swapMode ?? defaultSwapMode(manifest.faces, face, face);
    const { images: n, pairs, seed } = command;
    const s = manifest.resolution, plane = 3 * s * s, Z = manifest.latent;
    const signal = new AbortController().signal;
    const latents = (ids: number[]) => latentsForSeeds(ids.map((i) => seed + i), Z);
    const imagesOf = async (z: Float32Array, count: number) =>
      await model.images(await model.maps(z, count, signal), count, signal);
    const descriptors = (images: Float32Array, count: number) =>
      descriptorsInBatches(analyzer, images, count, s);

    // The real faces first: a folder short of N ends the run before the refining does.
    const files = await imageFiles(command.data);
    if (files.length < n) {
      throw new RealFacesError(
        `${command.data} holds ${files.length} images; realism against N = ${n} generated ` +
          "images needs as many real ones (lower --images).",
      );
    }
    // Realism before and after.
    const progress = new Progress("refining", n, { unit: "img" });
    const before: Float32Array[] = [], after: Float32Array[] = [];
    for (let from = 0; from < n; from += BATCH) {
      const count = Math.min(BATCH, n - from);
      const z = latents(Array.from({ length: count }, (_, i) => from + i));
      before.push(await descriptors(await imagesOf(z, count), count));
      const refined = await langevinLatents(model, z, count, { ...settings, seed: from }, signal);
      after.push(await descriptors(await imagesOf(refined, count), count));
      progress.update(from + count);
    }
    progress.finish();
    const real = await readRealFaces(files.slice(0, n), s);
    const realSet = { data: await descriptors(real.images, n), n, d: DESCRIPTOR_SIZE };
    const set = (parts: Float32Array[]) => ({
      data: concatArrays(Float32Array, parts),
      n,
      d: DESCRIPTOR_SIZE,
    });
    const realism = {
      fdBefore: frechetDistance(set(before), realSet),
      fdAfter: frechetDistance(set(after), realSet),
      fdAfterToBefore: frechetDistance(set(after), set(before)),
    };
    console.error(`realism: ${JSON.stringify(realism)}`);

    // Face swaps before and after a chain on each pair.
    const groups = face.map((id) => manifest.groups[id]);
    const { channels, height, width } = manifest.target;
    const k = height * width, size = channels * k;
    const rows = { before: [] as Row[], after: [] as Row[] };
    const swaps = new Progress("swaps", pairs, { unit: "pair" });
    for (let from = 0; from < pairs; from += BATCH / 2) {
      const count = Math.min(BATCH / 2, pairs - from);
      const ids = Array.from({ length: count }, (_, i) => from + i);
      const z = latents([...ids, ...ids.map((i) => i + Math.floor(n / 2))]);
      const originalMaps = await model.maps(z, 2 * count, signal);
      const originals = await model.images(originalMaps, 2 * count, signal);
      const landmarks = await analyzer.landmarks(originals, count, s);
      const masks = ids.map((_, i) =>
        partMask(partLabelsOf(landmarks, i, s), [...FACE_INNER_PARTS])
      );
      const originalDescriptors = await descriptors(originals, 2 * count);
      for (const phase of ["before", "after"] as const) {
        const maps = phase === "before" ? originalMaps : await model.maps(
          await langevinPairs(
            model,
            z,
            count,
            { groups, mode },
            { ...settings, seed: from },
            signal,
          ),
          2 * count,
          signal,
        );
        const swappedMaps = concatArrays(
          Float32Array,
          ids.map((_, i) =>
            swapMaps(
              maps.subarray(i * size, (i + 1) * size),
              maps.subarray((count + i) * size, (count + i + 1) * size),
              groups,
              k,
              mode,
            )
          ),
        );
        const swapped = await model.images(swappedMaps, count, signal);
        const d = await descriptors(swapped, count);
        ids.forEach((_, i) => {
          const toSource = descriptorDistance(
            d,
            i,
            originalDescriptors,
            count + i,
            DESCRIPTOR_SIZE,
          );
          const toTarget = descriptorDistance(d, i, originalDescriptors, i, DESCRIPTOR_SIZE);
          const errors = swapErrors(
            originals.subarray(i * plane, (i + 1) * plane),
            swapped.subarray(i * plane, (i + 1) * plane),
            originals.subarray((count + i) * plane, (count + i + 1) * plane),
            masks[i],
          );
          rows[phase].push({ toSource, toTarget, ...errors });
        });
      }
      swaps.update(from + count);
    }
    swaps.finish();
    const summary = (list: Row[]) => {
      const { ratio, transfer } = localityOf(meanErrors(list));
      // Without the export's threshold, the verifier's judgements are not known.
      const identity = identityRow(list, threshold ?? 0);
      return {
        judgedSource: threshold === undefined ? null : identity.judgedSource,
        judgedTarget: threshold === undefined ? null : identity.judgedTarget,
        closerToSource: identity.closerToSource,
        ratio,
        transfer,
      };
    };
    const result = {
      model: manifest.model,
      images: n,
      pairs,
      langevin: settings,
      realism,
      faceSwap: { face, mode, before: summary(rows.before), after: summary(rows.after) },
    };
    console.log(JSON.stringify(result));
  } finally {
    analyzer.dispose();
    await model.release();
  }
}

/** A pair's swap: its descriptor distances and pixel errors. */
type Row = PairDistances & SwapErrors;

/** Runs the command; returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runCommandLine({ usage: USAGE, parse: parseArgs, run }, args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
