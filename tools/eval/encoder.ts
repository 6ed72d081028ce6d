/**
 * `deno task eval:encoder --model <bundle>`: the bundle's encoder on photos
 * it never trained on (the last `holdout` images of its data, as export
 * measures them), with and without refinement (`POST /v1/encode?refine=n`):
 * mean PSNR of the reconstructions and the share that the `eval:faces`
 * verifier (the manifest's threshold) judges the photo's person. One JSON
 * line per refinement level, the last line all of them.
 *
 * Exit status: 0 done, 1 error, 2 bad command line.
 *
 * @module
 */

import { openFaceApi } from "../../faces/face_api.ts";
import { reconstructionFigures } from "../../faces/reconstruction.ts";
import { ServedModel } from "../../model/model.ts";
import { reconstructPhotos } from "../../model/refine.ts";
import { NoEncoderError } from "../../model/sessions.ts";
import { DEFAULT_MODEL } from "../../routes/config.ts";
import {
  integerFlag,
  parseFlags,
  runCommandLine,
  UsageError,
} from "../../training/command_line.ts";
import { loadTrainingData } from "../../training/data/load.ts";
import { holdoutPhotos } from "../../training/encoder/train.ts";
import { DEFAULT_DATA } from "./faces.ts";

const USAGE = `Usage: deno task eval:encoder [--model <bundle-folder>] [options]

  --model <folder>        a bundle with an encoder [model/default]
  --data <folder>         the encoder's data, whose last images it held out [${DEFAULT_DATA}]
  --holdout <n>           how many it held out [the manifest's]
  --images <n>            held-out photos measured (the first of them) [100]
  --refine <n,n,...>      refinement steps to measure [0,20,50]
  -h, --help              this text`;

interface EncoderCommand {
  model: string | URL;
  data: string;
  holdout?: number;
  images: number;
  refine: number[];
}

function parseArgs(args: string[]): EncoderCommand | "help" {
  const v = parseFlags(args, {
    model: { type: "string" },
    data: { type: "string" },
    holdout: { type: "string" },
    images: { type: "string" },
    refine: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (v.help) return "help";
  const refine = (v.refine ?? "0,20,50").split(",");
  if (!refine.every((r) => /^\d+$/.test(r))) {
    throw new UsageError(`--refine takes step counts like 0,20,50, got "${v.refine}".`);
  }
  const images = integerFlag("images", v.images) ?? 100;
  if (images < 1) throw new UsageError("--images must be at least 1.");
  return {
    model: v.model ?? DEFAULT_MODEL,
    data: v.data ?? DEFAULT_DATA,
    holdout: integerFlag("holdout", v.holdout),
    images,
    refine: refine.map(Number),
  };
}

/** Photos per onnxruntime run. */
const BATCH = 25;

async function run(command: EncoderCommand): Promise<void> {
  const model = await ServedModel.load(command.model, {
    threads: 1,
    maxBatch: BATCH,
    maxQueuedRows: 2 * BATCH,
  });
  const analyzer = await openFaceApi();
  try {
    const { manifest } = model;
    if (!manifest.encoder) {
      throw new NoEncoderError("this bundle has no encoder (export it with --encoder).");
    }
    const s = manifest.resolution, plane = 3 * s * s;
    const set = await loadTrainingData({ kind: "folder", path: command.data }, s, undefined);
    const holdout = command.holdout ?? manifest.encoder.holdout?.images ?? 500;
    const n = Math.min(command.images, holdout);
    const photos = holdoutPhotos(set, holdout).slice(0, n * plane);
    const threshold = manifest.faces?.identity?.threshold ?? null;
    const signal = new AbortController().signal;
    const rows = [];
    for (const steps of command.refine) {
      const started = performance.now();
      const { images: reconstructions } = await reconstructPhotos(model, photos, n, steps, signal);
      const figures = await reconstructionFigures(
        analyzer,
        photos,
        reconstructions,
        n,
        s,
        threshold,
      );
      const row = {
        refine: steps,
        ...figures,
        secondsPerPhoto: (performance.now() - started) / 1000 / n,
      };
      console.error(JSON.stringify(row));
      rows.push(row);
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
