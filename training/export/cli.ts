/**
 * `deno task export --run <run-folder> [--checkpoint <file>] --out <dir>`:
 * writes a training run's generator as a model bundle (see `bundle.ts`).
 *
 * Exit status: 0 done, 1 error, 2 bad command line.
 *
 * @module
 */

import { labelProblem } from "../../model/manifest.ts";
import { initEngine } from "../engine/engine.ts";
import {
  choiceFlag,
  integerFlag,
  onStopSignal,
  parseFlags,
  runCommandLine,
  swapModeFlag,
  UsageError,
} from "../command_line.ts";
import { exportBundle, type ExportOptions } from "./bundle.ts";
import { WEIGHT_PRECISIONS } from "./onnx.ts";
import { stagedProgress } from "../../core/progress.ts";
import { MIN_IMAGES } from "../../faces/evaluate.ts";

/** The usage text printed by `--help` and with command-line errors. */
export const USAGE = `Usage: deno task export --run <run-folder> --out <bundle-folder> [options]

  --replace               write over the bundle --out holds (else --out must be new or empty)
  --checkpoint <file>     export this checkpoint of the run instead of its newest
  --trained-weights       the trained generator's weights, not the run's average of them
  --encoder <run>         also export this encoder run (deno task train:encoder, trained for the
                          exported checkpoint) as encoder.onnx, measured on its held-out photos
  --name <name>           model name [the run folder's name]
  --version <version>     model version [step-<N>]
  --description <text>    replaces the generated description
  --label <id>=<name>     name a concept group (repeatable; ids as eval:concepts prints them)
  --face <id,id,...>      the groups that make up the face (for face swaps)
  --images <n>            generated images the groups and metrics are measured on [64]
  --groups <n>            C for a baseline run's GMM fitted at export [24]
  --no-part-labels        on the synthetic faces, skip the part segmenter (no labels, no face)
  --no-faces              on a folder of faces, skip eval:faces (no automatic names, no figures)
  --swap-mode <mode>      groups, region or wide: how that measurement swaps, which the manifest
                          records and the swap endpoints then default to for this model [groups]
  --face-swap-mode <mode> the same for face swaps (the face's groups) alone [as --swap-mode]
  --face-images <n>       N of that measurement [1000]
  --face-pairs <n>        P of that measurement [500]
  --identities <file>     the identity list of the run's data [<data>-identity.txt beside it]
  --weights <f16|f32>     how the ONNX files store weights: f16 (half the size, rounding far
                          below what a picture shows) or f32 (the trained values exactly) [f16]
  -h, --help              this text

A baseline run's groups are fitted at export; an interpretable run's are its trained partition.
On a folder of faces, the written bundle is measured as deno task eval:faces does: groups are named
after the landmark parts their regions overlap, and the names (with their scores), the face and
every figure go into the manifest; --label and --face win over the names found. On the synthetic
faces, labels and the face come from a part segmenter unless given.`;

/** Parses the command line into export options; throws {@link UsageError}. */
export function parseExportArgs(args: string[]): ExportOptions | "help" {
  const values = parseFlags(args, {
    run: { type: "string" },
    checkpoint: { type: "string" },
    "trained-weights": { type: "boolean" },
    encoder: { type: "string" },
    out: { type: "string" },
    replace: { type: "boolean" },
    name: { type: "string" },
    version: { type: "string" },
    description: { type: "string" },
    label: { type: "string", multiple: true },
    face: { type: "string" },
    images: { type: "string" },
    groups: { type: "string" },
    "no-part-labels": { type: "boolean" },
    "no-faces": { type: "boolean" },
    "face-images": { type: "string" },
    "face-pairs": { type: "string" },
    "swap-mode": { type: "string" },
    "face-swap-mode": { type: "string" },
    identities: { type: "string" },
    weights: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  if (!values.run) throw new UsageError("--run <run-folder> is required.");
  if (!values.out) throw new UsageError("--out <bundle-folder> is required.");
  const integer = (flag: "images" | "groups" | "face-images" | "face-pairs") => {
    try {
      const n = integerFlag(flag, values[flag]);
      if (n === 0) throw new UsageError(`--${flag} must be at least 1.`);
      return n;
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  };
  const labels: Record<number, string> = {};
  for (const text of values.label ?? []) {
    const match = /^(\d+)=(.+)$/.exec(text);
    if (!match) throw new UsageError(`--label takes <id>=<name>, got "${text}".`);
    const problem = labelProblem(match[2]);
    if (problem) throw new UsageError(`--label ${text}: ${problem}.`);
    labels[Number(match[1])] = match[2];
  }
  if (values["no-faces"]) {
    const measured = ["identities", "face-images", "face-pairs", "swap-mode", "face-swap-mode"]
      .filter((flag) => values[flag as keyof typeof values] !== undefined);
    if (measured.length > 0) {
      throw new UsageError(
        `--${measured[0]} sets the face measurement, which --no-faces skips; leave one out.`,
      );
    }
  }
  const weights = choiceFlag("weights", values.weights, WEIGHT_PRECISIONS);
  let face: number[] | undefined;
  if (values.face !== undefined) {
    if (!/^\d+(,\d+)*$/.test(values.face)) {
      throw new UsageError(`--face takes group ids like 1,4,7, got "${values.face}".`);
    }
    face = [...new Set(values.face.split(",").map(Number))];
  }
  return {
    run: values.run,
    out: values.out,
    replace: values.replace ?? false,
    checkpoint: values.checkpoint,
    trainedWeights: values["trained-weights"] ?? false,
    encoder: values.encoder,
    name: values.name,
    version: values.version,
    description: values.description,
    labels,
    face,
    images: integer("images"),
    groups: integer("groups"),
    partLabels: !values["no-part-labels"],
    faces: !values["no-faces"],
    faceImages: faceImages(integer("face-images")),
    facePairs: integer("face-pairs"),
    swapMode: swapModeFlag(values["swap-mode"]),
    faceSwapMode: swapModeFlag(values["face-swap-mode"], "face-swap-mode"),
    identities: values.identities,
    weights,
  };
}

/** `--face-images`, which takes at least {@link MIN_IMAGES}. */
function faceImages(n: number | undefined): number | undefined {
  if (n !== undefined && n < MIN_IMAGES) {
    throw new UsageError(`--face-images must be at least ${MIN_IMAGES}.`);
  }
  return n;
}

/** Runs the command; returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runCommandLine({ usage: USAGE, parse: parseExportArgs, run: runExport }, args);
}

async function runExport(options: ExportOptions): Promise<void> {
  const progress = stagedProgress({ unit: "img" });
  const created = !(await Deno.stat(options.out).then(() => true, () => false));
  // Stopped before its manifest, a bundle is no bundle: a folder this export made goes, and one
  // it was replacing is said to be incomplete; after it, only the face figures are missing.
  const stopWatching = onStopSignal((status) => {
    progress.finish();
    let manifest = false;
    try {
      manifest = [...Deno.readDirSync(options.out)].some((e) => e.name === "manifest.json");
      if (!manifest && created) Deno.removeSync(options.out, { recursive: true });
    } catch {
      // Not made yet: nothing to tidy.
    }
    console.error(
      manifest
        ? `stopped; ${options.out} holds the bundle without what was being measured (face ` +
          "figures, names): export again with --replace for them."
        : created
        ? `stopped; removed ${options.out}, which held no bundle yet.`
        : `stopped; ${options.out} holds part of a bundle: remove it, then export again.`,
    );
    Deno.exit(status);
  });
  try {
    await initEngine();
    const bundle = await exportBundle({
      ...options,
      onStatus: (line) => console.error(line),
      onProgress: progress.update,
    });
    progress.finish();
    const { manifest } = bundle;
    const { metrics, training } = manifest;
    console.error(
      `exported ${manifest.model.name} ${manifest.model.version} (${training.kind}, ` +
        `${manifest.groups.length} groups, consistency ${metrics.consistency.toFixed(3)}, ` +
        `separation ${metrics.separation.toFixed(3)}) to ${options.out}`,
    );
    console.log(JSON.stringify({ out: options.out, model: manifest.model, files: manifest.files }));
  } finally {
    stopWatching();
    progress.finish();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
