/**
 * `deno task eval:encoder --model <bundle>`: the bundle's encoder on photos
 * it never trained on (the last `holdout` images of its data, as export
 * measures them), with and without refinement of the latent and fitting of
 * its maps (`POST /v1/encode?refine=n&fit=m`): mean PSNR of the
 * reconstructions and the share that the `eval:faces` verifier (the
 * manifest's threshold) judges the photo's person; and the edit a user makes
 * of a photo, a face swap with generated faces (seeds from `--seed`) in the
 * bundle's face-swap mode, both ways: the photo's face on a generated head (how
 * often still judged the photo's person) and a generated face on the photo
 * (how often still judged the photo's person: lower is a carried face). One
 * JSON line per level, the last line all of them.
 *
 * Exit status: 0 done, 1 error, 2 bad command line.
 *
 * @module
 */

import { openFaceApi } from "../../faces/face_api.ts";
import { descriptorsInBatches } from "../../faces/analyzer.ts";
import { likenessFigures, reconstructionFigures } from "../../faces/reconstruction.ts";
import { inRowBatches } from "../../core/row_batches.ts";
import { defaultSwapMode, swapMaps } from "../../core/swap_maps.js";
import { DEFAULT_MODEL, faceGroups } from "../../model/bundle.ts";
import type { ConceptGroup } from "../../model/manifest.ts";
import { latentsForSeeds } from "../../model/latents.ts";
import { ServedModel } from "../../model/model.ts";
import { DEFAULT_FIT_STEPS, reconstructPhotos } from "../../model/refine.ts";
import { NoEncoderError } from "../../model/sessions.ts";
import {
  integerFlag,
  parseFlags,
  runCommandLine,
  seedFlag,
  UsageError,
} from "../../training/command_line.ts";
import { loadTrainingData } from "../../training/data/load.ts";
import { holdoutPhotos } from "../../training/encoder/train.ts";
import { stagedProgress } from "../../core/progress.ts";
import { DEFAULT_DATA } from "./faces.ts";

const USAGE = `Usage: deno task eval:encoder [--model <bundle-folder>] [options]

  --model <folder>        a bundle with an encoder [model/default]
  --data <folder>         the encoder's data, whose last images it held out [${DEFAULT_DATA}]
  --holdout <n>           how many it held out [the manifest's]
  --images <n>            held-out photos measured (the first of them) [100]
  --refine <n,n,...>      latent refinement steps to measure [0,50]
  --fit <n,n,...>         map fitting steps to measure, with each refinement [0,${DEFAULT_FIT_STEPS}]
  --seed <n>              first seed of the generated faces swapped with the photos [1000000]
  -h, --help              this text`;

interface EncoderCommand {
  model: string | URL;
  data: string;
  holdout?: number;
  images: number;
  refine: number[];
  fit: number[];
  seed: number;
}

/** Step counts like 0,20,50 of flag `name`. */
function stepCounts(name: string, text: string): number[] {
  const counts = text.split(",");
  if (!counts.every((r) => /^\d+$/.test(r))) {
    throw new UsageError(`--${name} takes step counts like 0,20,50, got "${text}".`);
  }
  return counts.map(Number);
}

function parseArgs(args: string[]): EncoderCommand | "help" {
  const v = parseFlags(args, {
    model: { type: "string" },
    data: { type: "string" },
    holdout: { type: "string" },
    images: { type: "string" },
    refine: { type: "string" },
    fit: { type: "string" },
    seed: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (v.help) return "help";
  const images = integerFlag("images", v.images) ?? 100;
  if (images < 1) throw new UsageError("--images must be at least 1.");
  const holdout = integerFlag("holdout", v.holdout);
  if (holdout === 0) throw new UsageError("--holdout must be at least 1.");
  return {
    model: v.model ?? DEFAULT_MODEL,
    data: v.data ?? DEFAULT_DATA,
    holdout,
    images,
    refine: stepCounts("refine", v.refine ?? "0,50"),
    fit: stepCounts("fit", v.fit ?? `0,${DEFAULT_FIT_STEPS}`),
    seed: seedFlag(v.seed) ?? 1000000,
  };
}

/** Photos per onnxruntime run. */
const BATCH = 25;

/**
 * Face swaps of photos with `n` generated faces (seeds from `seed`), photo k
 * with face k: given the photos' maps, the images of each photo's face on
 * its generated face, and of the generated face on the photo (swapping
 * `groups`, the bundle's face, in its swap mode).
 */
async function faceSwapsWith(
  model: ServedModel,
  groups: readonly ConceptGroup[],
  n: number,
  seed: number,
  signal: AbortSignal,
): Promise<(maps: Float32Array) => Promise<Float32Array[]>> {
  const { manifest } = model, size = model.mapsSize;
  const k = manifest.target.height * manifest.target.width;
  const mode = defaultSwapMode(manifest.faces, manifest.face, manifest.face ?? []);
  const latents = latentsForSeeds(
    Array.from({ length: n }, (_, i) => seed + i),
    manifest.latent,
  );
  const generated = await inRowBatches(
    latents,
    n,
    BATCH,
    (z, count) => model.maps(z, count, signal),
  );
  return (maps) => {
    const swapped = [new Float32Array(n * size), new Float32Array(n * size)];
    for (let i = 0; i < n; i++) {
      const photo = maps.subarray(i * size, (i + 1) * size);
      const face = generated.subarray(i * size, (i + 1) * size);
      swapped[0].set(swapMaps(face, photo, groups, k, mode), i * size);
      swapped[1].set(swapMaps(photo, face, groups, k, mode), i * size);
    }
    return Promise.all(
      swapped.map((all) =>
        inRowBatches(all, n, BATCH, (rows, count) => model.images(rows, count, signal))
      ),
    );
  };
}

async function run(command: EncoderCommand): Promise<void> {
  // The face networks before the model: when they cannot load, there is no model to release.
  const analyzer = await openFaceApi();
  const model = await ServedModel.load(command.model, {
    threads: 1,
    maxBatch: BATCH,
    maxQueuedRows: 2 * BATCH,
  });
  try {
    const { manifest } = model;
    if (!manifest.encoder) {
      throw new NoEncoderError("this bundle has no encoder (export it with --encoder).");
    }
    const face = faceGroups(manifest, command.model); // before the photos load, for minutes

    const s = manifest.resolution, plane = 3 * s * s;
    const set = await loadTrainingData({ kind: "folder", path: command.data }, s, undefined);
    const holdout = command.holdout ?? manifest.encoder.heldOut ??
      manifest.encoder.holdout?.images ?? 500;
    const n = Math.min(command.images, holdout);
    if (n < command.images) {
      console.error(
        `note: measuring ${n} photos, all that the encoder held out (--images ${command.images})`,
      );
    }
    const photos = holdoutPhotos(set, holdout).slice(0, n * plane);
    const threshold = manifest.faces?.identity?.threshold ?? null;
    const signal = new AbortController().signal;
    const photoDescriptors = await descriptorsInBatches(analyzer, photos, n, s);
    const swaps = await faceSwapsWith(model, face, n, command.seed, signal);
    const rows = [];
    // A level of refinement and fitting takes minutes (2.5 s a photo at 50 refinement steps).
    const progress = stagedProgress({ unit: "photo" });
    for (const refine of command.refine) {
      for (const fit of command.fit) {
        const started = performance.now();
        progress.update(`refine ${refine}, fit ${fit}`, 0, n);
        const { maps, images } = await reconstructPhotos(
          model,
          photos,
          n,
          { refine, fit },
          signal,
          (done, total) => progress.update(`refine ${refine}, fit ${fit}`, done, total),
        );
        progress.finish();
        const seconds = (performance.now() - started) / 1000 / n;
        const [onGenerated, onPhoto] = await swaps(maps);
        const row = {
          refine,
          fit,
          ...await reconstructionFigures(
            analyzer,
            photos,
            images,
            n,
            s,
            threshold,
            photoDescriptors,
          ),
          secondsPerPhoto: seconds,
          photoFaceOnGenerated: likenessFigures(
            photoDescriptors,
            await descriptorsInBatches(analyzer, onGenerated, n, s),
            n,
            threshold,
          ),
          generatedFaceOnPhoto: likenessFigures(
            photoDescriptors,
            await descriptorsInBatches(analyzer, onPhoto, n, s),
            n,
            threshold,
          ),
        };
        console.error(JSON.stringify(row));
        rows.push(row);
      }
    }
    console.log(JSON.stringify({ model: manifest.model, holdout, rows }));
  } finally {
    analyzer.dispose();
    await model.release();
  }
}

/** Runs the command; returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runCommandLine({ usage: USAGE, parse: parseArgs, run }, args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
