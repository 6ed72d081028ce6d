/**
 * `deno task eval:faces [--model <bundle> | --run <run>]`: measures a model
 * bundle as a user of face swaps sees it (`faces/evaluate.ts`): realism,
 * identity after a face swap, locality of part swaps, and the concept names
 * found. Prints progress on standard error, a table, and one JSON object as
 * the last line.
 *
 * Exit status: 0 done, 1 error, 2 bad command line.
 *
 * @module
 */

import type { SwapMode } from "../../model/swap.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stagedProgress } from "../../core/progress.ts";
import { DEFAULT_MODEL, readBundle } from "../../model/bundle.ts";
import {
  integerFlag,
  parseFlags,
  runCommandLine,
  seedFlag,
  swapModeFlag,
  temporaryFolder,
  UsageError,
} from "../../training/command_line.ts";
import {
  evaluateFaces,
  type FaceEvaluation,
  type IdentityRow,
  type LocalityRow,
  manifestWithFaces,
  MIN_IMAGES,
  PAPER_LOCALITY,
} from "../../faces/evaluate.ts";
import { BUNDLE_FILES } from "../../model/manifest.ts";
import { writeTextFileAtomic } from "../../training/atomic_file.ts";
import { openFaceApi } from "../../faces/face_api.ts";
import { defaultIdentities } from "../../faces/verification.ts";
import { imageFiles } from "../../faces/real_faces.ts";

/** The folder of real faces when none is given. */
export const DEFAULT_DATA = "../shared/data/celeba";

const USAGE = `Usage: deno task eval:faces [--model <bundle-folder> | --run <run-folder>] [options]

  --model <folder>        the bundle to measure [model/default, the embedded default model]
  --run <run-folder>      measure a training run's checkpoint, exported to a temporary bundle
  --checkpoint <file>     with --run: this checkpoint instead of the newest
  --data <folder>         real faces [${DEFAULT_DATA}; with --run, the run's data folder
                          when it is one]
  --identities <file>     the identity list of --data, "<file> <person id>" lines
                          [<data>-identity.txt beside the folder]
  --images <n>            N, generated and real images for realism and naming, at least ${MIN_IMAGES} [1000]
  --pairs <n>             P, pairs for the face swap and for each concept's locality [500]
  --seed <n>              first seed of the generated images [1000000]
  --swap-mode <mode>      how swaps exchange maps, as the swap endpoints' mode: groups (the
                          paper's: the groups' filters only), region (also every filter inside
                          the groups' region) or wide (the region grown by a margin) [the
                          bundle's measured mode, as the endpoints default to it; groups]
  --face-swap-mode <mode> the same for the face swap alone [as --swap-mode when given, else the
                          bundle's measured face-swap mode]
  --write                 store the labels (with their scores), the face and every figure in
                          the bundle's manifest, as deno task export does (not with --run)
  -h, --help              this text`;

/** The parsed command line. */
export interface FacesCommand {
  model?: string;
  run?: string;
  checkpoint?: string;
  data?: string;
  identities?: string;
  images?: number;
  pairs?: number;
  seed?: number;
  swapMode?: SwapMode;
  faceSwapMode?: SwapMode;
  write: boolean;
}

/** Parses the command line; throws {@link UsageError}. */
export function parseFacesArgs(args: string[]): FacesCommand | "help" {
  const values = parseFlags(args, {
    model: { type: "string" },
    run: { type: "string" },
    checkpoint: { type: "string" },
    data: { type: "string" },
    identities: { type: "string" },
    images: { type: "string" },
    pairs: { type: "string" },
    seed: { type: "string" },
    "swap-mode": { type: "string" },
    "face-swap-mode": { type: "string" },
    write: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  if (values.model && values.run) throw new UsageError("give --model or --run, not both.");
  if (values.checkpoint && !values.run) throw new UsageError("--checkpoint needs --run.");
  if (values.write && values.run) {
    throw new UsageError("--write stores into a bundle: use --model.");
  }
  const atLeast = (flag: "images" | "pairs", least: number) => {
    const n = integerFlag(flag, values[flag]);
    if (n !== undefined && n < least) throw new UsageError(`--${flag} must be at least ${least}.`);
    return n;
  };
  return {
    model: values.model,
    run: values.run,
    checkpoint: values.checkpoint,
    data: values.data,
    identities: values.identities,
    images: atLeast("images", MIN_IMAGES),
    pairs: atLeast("pairs", 1),
    seed: seedFlag(values.seed),
    swapMode: swapModeFlag(values["swap-mode"]),
    faceSwapMode: swapModeFlag(values["face-swap-mode"], "face-swap-mode"),
    write: values.write ?? false,
  };
}

const percent = (v: number) => `${(100 * v).toFixed(1)}%`;
const fixed = (v: number | null, digits = 4) => (v === null ? "-" : v.toFixed(digits));

/** The table of an evaluation. */
export function formatTable(e: FaceEvaluation, label: string): string {
  const lines = [
    `${label}: N = ${e.images}, P = ${e.pairs}, seeds from ${e.seed}, swap mode ${e.swapMode}` +
    (e.faceSwapMode !== e.swapMode ? `, face swaps ${e.faceSwapMode}` : ""),
  ];
  const r = e.realism;
  lines.push(
    "",
    "realism (face descriptors)     generated vs real    real vs real (floor)",
    `  Frechet distance             ${fixed(r.fd).padEnd(21)}${fixed(r.realFd)}`,
    `  KID                          ${
      `${fixed(r.kid, 5)} +- ${fixed(r.kidStandardError, 5)}`.padEnd(21)
    }` +
      `${fixed(r.realKid, 5)} +- ${fixed(r.realKidStandardError, 5)}`,
    `  face detected                ${percent(r.faceDetected).padEnd(21)}${
      percent(r.realFaceDetected)
    }`,
  );
  lines.push("", "concept names (group: label [source], best part, IoU, lift, inside face)");
  for (const g of e.naming.groups) {
    lines.push(
      `  ${String(g.group).padStart(3)}: ${(g.used ?? "-").padEnd(10)} [${g.source}]`.padEnd(32) +
        `${g.bestPart.padEnd(11)} ${g.score.toFixed(3)} ${g.lift.toFixed(2).padStart(6)} ` +
        percent(g.insideFace),
    );
  }
  lines.push(`  face: groups ${e.naming.face.join(", ") || "(none)"}`);
  const id = e.identity;
  if (id) {
    const row = (name: string, v: IdentityRow) =>
      `  ${name.padEnd(20)}${percent(v.judgedSource).padStart(8)}${
        percent(v.judgedTarget).padStart(9)
      }` +
      `${percent(v.closerToSource).padStart(10)}${v.meanToSource.toFixed(3).padStart(10)}` +
      `${v.meanToTarget.toFixed(3).padStart(10)}`;
    lines.push(
      "",
      `identity (face = groups ${id.face.join(", ")}; verifier threshold ${
        id.threshold.toFixed(3)
      }, ` +
        `accuracy ${percent(id.accuracy)} on ${id.samePairs} + ${id.differentPairs} real pairs)`,
      "                      source   target    closer   d(src)    d(tgt)",
      row("face swap", id.swap),
      row("pixel paste (ref.)", id.paste),
      `  different faces judged one person: generated ${percent(id.generatedJudgedSame)}, ` +
        `real ${percent(id.realJudgedSame)}`,
    );
    const distinct = (v: IdentityRow) =>
      v.judgedTargetDistinct == null ? "-" : percent(v.judgedTargetDistinct);
    lines.push(
      `  judged the target's among the pairs told apart: face swap ${distinct(id.swap)}, ` +
        `pixel paste ${distinct(id.paste)}`,
    );
  } else lines.push("", "identity: the model has no face groups; nothing to swap");
  const paper = Object.entries(PAPER_LOCALITY);
  const groupsText = (row: LocalityRow) => row.groups.join(",") || "(none)";
  // As wide as the longest list (the face's), so that the columns stay aligned.
  const groupsWidth = Math.max(14, ...e.locality.map((row) => groupsText(row).length));
  lines.push(
    "",
    "locality (Out-MSE / In-MSE, lower is better; transfer inside the mask, 1 = the source's)",
    `  concept      ${"groups".padEnd(groupsWidth)}  ratio   transfer   ${
      paper.map(([name]) => name).join("  ")
    }`,
  );
  for (const row of e.locality) {
    const reference = paper.map(([name, figures]) =>
      (figures[row.concept] === undefined ? "-" : figures[row.concept].toFixed(4)).padStart(
        name.length,
      )
    ).join("  ");
    lines.push(
      `  ${row.concept.padEnd(12)} ${groupsText(row).padEnd(groupsWidth)} ` +
        `${fixed(row.ratio).padStart(7)} ${fixed(row.transfer, 3).padStart(9)}   ${reference}`,
    );
  }
  lines.push("", `measured in ${e.seconds.toFixed(0)} s`);
  return lines.join("\n");
}

/**
 * The modes to measure: the flags', else the bundle's own measured ones (what the swap endpoints
 * default to for it), else the paper's `groups`. A `--swap-mode` alone sets the face's too.
 */
export function modesToMeasure(
  command: Pick<FacesCommand, "swapMode" | "faceSwapMode">,
  measured: { swapMode?: SwapMode; faceSwapMode?: SwapMode } | null | undefined,
): { swapMode: SwapMode; faceSwapMode: SwapMode } {
  const swapMode = command.swapMode ?? measured?.swapMode ?? "groups";
  const faceSwapMode = command.faceSwapMode ??
    (command.swapMode ? swapMode : measured?.faceSwapMode ?? swapMode);
  return { swapMode, faceSwapMode };
}

/** Runs the command; returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runCommandLine({ usage: USAGE, parse: parseFacesArgs, run: measure }, args);
}

async function measure(command: FacesCommand): Promise<number> {
  const progress = stagedProgress({ unit: "img" });
  let removeExport: (() => Promise<void>) | null = null;
  const analyzer = await openFaceApi();
  try {
    let folder = command.model ?? fileURLToPath(DEFAULT_MODEL);
    let data = command.data ?? DEFAULT_DATA;
    if (command.run) {
      // A --data that is not there ends the run before the export, not after it.
      if (command.data) await imageFiles(command.data);
      const exported = await exportForEvaluation(command.run, command.checkpoint);
      [folder, removeExport] = [exported.folder, exported.remove];
      data = command.data ?? exported.data ?? DEFAULT_DATA;
      if (!command.data && !exported.data) {
        console.error(`the run's data is not a folder of photos: real faces from ${data}`);
      }
    }
    const bundle = await readBundle(folder);
    const evaluation = await evaluateFaces(bundle, analyzer, {
      data,
      identities: command.identities ?? defaultIdentities(data),
      images: command.images,
      pairs: command.pairs,
      seed: command.seed,
      ...modesToMeasure(command, bundle.manifest.faces),
      onProgress: progress.update,
    });
    progress.finish();
    const { name, version } = bundle.manifest.model;
    if (command.write) {
      const manifest = manifestWithFaces(bundle.manifest, evaluation);
      await writeTextFileAtomic(
        join(folder, BUNDLE_FILES.manifest),
        JSON.stringify(manifest, null, 2) + "\n",
      );
      await readBundle(folder); // the stored manifest still verifies
      console.error(`stored the labels and figures in ${join(folder, BUNDLE_FILES.manifest)}`);
    }
    console.log(formatTable(evaluation, `${name} ${version}`));
    console.log(JSON.stringify({ model: bundle.manifest.model, data, ...evaluation }));
    return 0;
  } finally {
    progress.finish();
    analyzer.dispose();
    await removeExport?.();
  }
}

/**
 * Exports a run's checkpoint to a temporary bundle, removed by `remove` (or
 * when the program is interrupted); also says the run's data folder.
 */
export async function exportForEvaluation(
  run: string,
  checkpoint: string | undefined,
): Promise<{ folder: string; data: string | null; remove: () => Promise<void> }> {
  // Loaded for --run alone: the engine and the exporter are most of a run's modules.
  const { initEngine } = await import("../../training/engine/engine.ts");
  const { exportBundle } = await import("../../training/export/bundle.ts");
  const { openRun } = await import("../../training/run_folder.ts");
  const opened = await openRun(run);
  await initEngine();
  const folder = await Deno.makeTempDir({ prefix: "igan-eval-faces-" });
  const remove = temporaryFolder(folder);
  try {
    await exportBundle({ run, checkpoint, out: folder, faces: false, partLabels: false });
  } catch (error) {
    await remove();
    throw error;
  }
  console.error(`exported ${run} to ${folder}`);
  const { data } = opened.config;
  return { folder, data: data.kind === "folder" ? data.path : null, remove };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
