/**
 * `deno task figures --model <bundle> --out <folder>`: the figures
 * docs/RESULTS.md shows of a model bundle, drawn by the server's own code:
 *
 * - `samples.png`: 8 x 4 faces of seeds from `--seed`;
 * - `concepts.png`: 8 faces above their concept maps (the paper's Fig. 3);
 * - `swap-<concept>.png`: for each of mouth, eyes, nose and face that the
 *   manifest names, 4 swap strips (target | mask | source | swap |
 *   difference, the paper's Figs. 5 and 6) in the given `--swap-mode`; an
 *   earlier run's strips of a concept this model does not name are removed.
 *
 * `--out` may be any folder but one of photos: figures written among a
 * training set's images would be trained on.
 *
 * Exit status: 0 done, 1 error, 2 bad command line.
 *
 * @module
 */

import { writeFileAtomic } from "../../training/atomic_file.ts";
import { basename, join } from "node:path";
import { listFolder } from "../../core/files.ts";
import { encodePng, imageGrid, type RgbImage } from "../../core/image.ts";
import { generatePictures } from "../../model/generation.ts";
import { conceptMapPicture } from "../../model/maps.ts";
import { ServedModel, UnknownConceptError } from "../../model/model.ts";
import {
  defaultSwapMode,
  SWAP_EXTRAS,
  type SwapMode,
  swapPictures,
  swapStrip,
} from "../../model/swap.ts";
import {
  integerFlag,
  parseFlags,
  runCommandLine,
  seedFlag,
  swapModeFlag,
  UsageError,
} from "../../training/command_line.ts";

const USAGE = `Usage: deno task figures --model <bundle-folder> --out <folder> [options]

  --seed <n>          first seed of the faces [1000]
  --size <n>          side of each picture in pixels, 16 to 1024 [the model's resolution]
  --swap-mode <mode>  groups, region or wide, as the swap endpoints' mode [the model's default
                      for each concept: its face-swap mode for the face]
  -h, --help          this text`;

/** The sides a picture may have: a strip of 16-pixel tiles is still legible, 1024 is poster size. */
const PICTURE_SIZES = { min: 16, max: 1024 };

/** Concepts whose swaps are drawn, when the manifest names them ("face": its face groups). */
const SWAPPED = ["mouth", "eyes", "nose", "face"] as const;

interface FiguresCommand {
  model: string;
  out: string;
  seed: number;
  size?: number;
  swapMode?: SwapMode;
}

function parse(args: string[]): FiguresCommand | "help" {
  const values = parseFlags(args, {
    model: { type: "string" },
    out: { type: "string" },
    seed: { type: "string" },
    size: { type: "string" },
    "swap-mode": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  if (!values.model || !values.out) throw new UsageError("--model and --out are required.");
  const size = integerFlag("size", values.size);
  if (size !== undefined && (size < PICTURE_SIZES.min || size > PICTURE_SIZES.max)) {
    throw new UsageError(
      `--size takes ${PICTURE_SIZES.min} to ${PICTURE_SIZES.max} pixels, got ${size}.`,
    );
  }
  return {
    model: values.model,
    out: values.out,
    seed: seedFlag(values.seed) ?? 1000,
    size,
    swapMode: swapModeFlag(values["swap-mode"]),
  };
}

async function write(folder: string, name: string, image: RgbImage): Promise<void> {
  await writeFileAtomic(join(folder, name), encodePng(image));
  console.error(`wrote ${join(folder, name)} (${image.width}x${image.height})`);
}

/** Removes an earlier run's figure that this model has none of, so the folder shows one model. */
async function removeStale(path: string): Promise<void> {
  try {
    await Deno.remove(path);
    console.error(`removed ${path}, an earlier run's strips`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** The names of the files this command writes. */
const FIGURE_FILE = /^(samples|concepts|swap-[a-z]+)\.png$/;

/** More images than this besides figures make `--out` a folder of photos. */
const MOST_OTHER_IMAGES = 8;

/**
 * Refuses an `--out` folder of photos (a training data folder, say, whose
 * next run would take the figures in): one holding more than
 * {@link MOST_OTHER_IMAGES} images, at any depth, that are not figures.
 */
async function checkOutFolder(folder: string): Promise<void> {
  const listed = await listFolder(folder);
  if (listed === "does not exist") return;
  if (listed === "is not a folder") {
    throw new UsageError(`--out ${folder} is a file; give a folder for the figures.`);
  }
  const others = listed.map((f) => basename(f.path))
    .filter((name) => /\.(jpe?g|png)$/i.test(name) && !FIGURE_FILE.test(name));
  if (others.length > MOST_OTHER_IMAGES) {
    throw new UsageError(
      `--out ${folder} holds ${others.length} images that are not figures ` +
        `(${others.slice(0, 3).join(", ")}, ...): a folder of photos, which training would read ` +
        "the figures with; give a folder for the figures.",
    );
  }
}

async function drawFigures(command: FiguresCommand): Promise<void> {
  await checkOutFolder(command.out);
  const model = await ServedModel.load(command.model, {
    threads: 1,
    maxBatch: 16,
    maxQueuedRows: 64,
  });
  try {
    const size = command.size ?? model.manifest.resolution;
    const signal = new AbortController().signal;
    const seeds = (n: number, from = command.seed) => Array.from({ length: n }, (_, k) => from + k);
    await Deno.mkdir(command.out, { recursive: true });
    const samples = [];
    for (const from of [0, 16]) {
      const sources = seeds(16, command.seed + from);
      samples.push(...await generatePictures(model, { sources, size }, signal));
    }
    await write(command.out, "samples.png", imageGrid(samples, 8));
    const faces = await generatePictures(model, { sources: seeds(8), size }, signal);
    const maps = [];
    for (const seed of seeds(8)) {
      maps.push(await conceptMapPicture(model, { image: seed, size, style: "map" }, signal));
    }
    await write(command.out, "concepts.png", imageGrid([...faces, ...maps], 8));
    for (const concept of SWAPPED) {
      let groups;
      try {
        groups = model.resolveConcepts([concept]);
      } catch (error) {
        if (!(error instanceof UnknownConceptError)) throw error;
        console.error(
          concept === "face"
            ? "the model does not say which groups make up the face: no face swap strips"
            : `no group is named ${concept}: no swap strips for it`,
        );
        await removeStale(join(command.out, `swap-${concept}.png`));
        continue;
      }
      const strips = [];
      for (const k of [0, 1, 2, 3]) {
        const pictures = await swapPictures(model, {
          target: command.seed + 2 * k,
          source: command.seed + 2 * k + 1,
          groups,
          mode: command.swapMode ??
            defaultSwapMode(model.manifest.faces, model.manifest.face, groups.map((g) => g.id)),
          size,
          extras: new Set(SWAP_EXTRAS),
        }, signal);
        strips.push(swapStrip(pictures));
      }
      await write(command.out, `swap-${concept}.png`, imageGrid(strips, 1));
    }
  } finally {
    await model.release();
  }
}

/** Runs the command; returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runCommandLine({ usage: USAGE, parse, run: drawFigures }, args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
