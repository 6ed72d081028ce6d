/**
 * `deno task train`: trains a GAN from a folder of images (or the synthetic
 * faces) into a run folder, or resumes a run. Ctrl-C finishes the current
 * step, writes a checkpoint and exits with status 130; a second Ctrl-C after
 * the first was acknowledged quits at once (checkpoints are written
 * atomically, so none is left half-written). Signals are handled between
 * steps.
 *
 * Exit status: 0 done, 1 error, 2 bad command line, 130 interrupted.
 *
 * @module
 */

import { pathKind } from "../core/files.ts";
import { isSlim, slimResumeNote } from "./slim.ts";
import { writeFileAtomic } from "./atomic_file.ts";
import { basename, dirname, resolve } from "node:path";
import {
  integerFlag,
  numberFlag,
  parseFlags,
  positiveIntegerFlag,
  runCommandLine,
  UsageError,
  withStopSignal,
} from "./command_line.ts";
import { initEngine } from "./engine/engine.ts";
import { describeBackend } from "./engine/backend.ts";
import {
  ConfigError,
  type InterpretableConfig,
  type NetworkConfig,
  type PartialConfig,
  requireStepsAhead,
  resolveConfig,
  type TrainConfig,
  withFlagNames,
} from "./config.ts";
import type { ImageSet } from "./data/image_set.ts";
import { loadTrainingData } from "./data/load.ts";
import { Progress } from "../core/progress.ts";
import {
  createRun,
  type LoadedCheckpoint,
  lockRun,
  openRun,
  readCheckpoint,
  readNewestCheckpoint,
  type RunFolder,
  RunFolderError,
  truncateLog,
  writeConfig,
} from "./run_folder.ts";
import {
  checkpointConfig,
  CheckpointError,
  checkpointState,
  loadingCheckpoint,
} from "./checkpoint.ts";
import type { Safetensors } from "./safetensors.ts";
import { GanTrainer } from "./trainer.ts";
import { realsGridPng, trainLoop } from "./train.ts";

/** The usage text printed by `--help` and with command-line errors. */
export const USAGE = `Usage:
  deno task train --data <folder> [options]     train on a folder of JPEG/PNG images
  deno task train --synthetic [options]         train on generated cartoon faces
  deno task train --resume <run-folder> [--steps N] [--data <folder>]
                                                continue a run (--data: where its images are
                                                now, when they moved)
  deno task train --resume <checkpoint> [--steps N] [--data <folder>] [--out <folder>]
                [--name <name>] [--augment <list|none>] [--r1 <gamma>] [--lr-g <x>] [--lr-d <x>]
                [--lambda1 <x>] [--lambda2-g <x>] [--freeze-head | --train-head]
                                                continue a run from its checkpoint file alone
                                                (e.g. one committed to a repository), in a new
                                                run folder, optionally with DiffAugment, R1,
                                                learning rates or (an interpretable run's) loss
                                                weights changed from then on, or with only the
                                                generator's tail and D trained (--freeze-head:
                                                the head stays at its weight average, so the
                                                target layer's maps and groups do not change;
                                                --train-head trains the whole generator again)

Options (defaults in brackets):
  --out <folder>            where run folders are created [runs]
  --name <name>             run name suffix [data folder name and resolution]
  --steps <n>               total generator steps [20000]
  --batch <n>               images per step [64]
  --resolution <32|64>      image size; the target layer is half of it [64]
  --width <n>               base channel count w of both networks [64]
  --target-channels <n>     M, filters of the generator's target layer [128]
  --latent <n>              latent size [128]
  --architecture <upsample|dcgan>  generator layers: nearest upsampling and 3x3 convolutions with
                            a two-layer tail, or DCGAN's transposed convolutions [upsample]
  --loss <nonsaturating|hinge>  GAN loss [nonsaturating]
  --augment <list|none>     DiffAugment of the discriminator's inputs, from color, translation,
                            cutout, e.g. color,translation,cutout [none]
  --r1 <gamma>              R1 penalty on the discriminator at real images, gamma/2 E|grad D|^2,
                            estimated by a finite difference along a random direction [0: none]
  --ema-images <n>          half-life in images of the generator's weight average that samples
                            and export use; 0 for none [10000]
  --lr-g <x>, --lr-d <x>    Adam learning rates [0.0002]
  --seed <n>                seed of weights, latents and data order [0]
  --no-flip                 do not mirror training images
  --synthetic-count <n>     images in the synthetic set [4096]
  --log-every <n>           steps between log lines [10]
  --sample-every <n>        steps between sample grids [500]
  --checkpoint-every <n>    steps between checkpoints [500]
  --keep-checkpoints <n>    newest checkpoints kept [3]
  --interpretable           train the interpretable GAN (GMM groups, energy model, L_interp)
  --groups <n>              C, filter groups of the interpretable GAN [24]
  --interp-every <n>        T, GAN steps per interpretability step [50]
  --lambda1 <x>             weight of overlap with other groups in L_interp [2/3]
  --other-groups sum|mean   L_interp weighs each other group by lambda1 (sum, the paper's)
                            or by lambda1 / (C - 1) (mean) [sum]
  --lambda2-g <x>           weight of the energy term in the generator's loss [0.1]
  --fixed-share-weight <x>  weight of a penalty on target filters that draw the same pattern on
                            every image: how far their energy's fixed share exceeds the limit
                            [0: none]
  --fixed-share-limit <x>   the fixed share in [0, 1] above which that penalty starts [0.9]
  --energy-pool <n>         g_W and the GMM see the maps averaged over n x n blocks [1]
  --energy-every-step       also apply the generator's energy term at every GAN step
                            (the paper applies it at interpretability steps only)
  --energy-normalize        g_W and the GMM see each map scaled to unit RMS over its positions
  --init-from <checkpoint>  start from this checkpoint's generator (fine-tuning; D starts afresh)
  --init-discriminator      with --init-from, also start from its discriminator
  --discriminator-warmup <n>  with --init-from, n discriminator updates alone (the generator
                            not moving) before the first generator step [0]
  --cache-dir <folder>      decoded-data cache [$IGAN_CACHE_DIR, $XDG_CACHE_HOME/interpretable-gan
                            or ~/.cache/interpretable-gan]
  -h, --help                this text

Environment: IGAN_BACKEND=cpu|webgpu picks the engine's backend (auto: WebGPU on a hardware
GPU, else the CPU); IGAN_ADAPTER=software|hardware, IGAN_KERNELS=cpu|gpu pick WebGPU's adapter
and kernel variant.`;

/** What the command line asks for. */
export type TrainCommand =
  | { kind: "new"; config: TrainConfig; out: string; name: string; cacheDir?: string }
  | {
    kind: "resume";
    /** A run folder, or a checkpoint file to continue in a new run folder under `out`. */
    run: string;
    /** Settings changed; `interpretable`'s are merged into the run's own. */
    overrides: Omit<Partial<TrainConfig>, "interpretable"> & {
      interpretable?: Partial<InterpretableConfig>;
    };
    /** Whether it changes a training setting (see `CONTINUATION_SETTINGS`): checkpoint files only. */
    changesSettings: boolean;
    out: string;
    name?: string;
    cacheDir?: string;
  };

const OPTIONS = {
  data: { type: "string" },
  synthetic: { type: "boolean" },
  resume: { type: "string" },
  out: { type: "string" },
  name: { type: "string" },
  steps: { type: "string" },
  batch: { type: "string" },
  resolution: { type: "string" },
  width: { type: "string" },
  "target-channels": { type: "string" },
  latent: { type: "string" },
  loss: { type: "string" },
  architecture: { type: "string" },
  augment: { type: "string" },
  r1: { type: "string" },
  "ema-images": { type: "string" },
  "lr-g": { type: "string" },
  "lr-d": { type: "string" },
  seed: { type: "string" },
  "no-flip": { type: "boolean" },
  "synthetic-count": { type: "string" },
  "log-every": { type: "string" },
  "sample-every": { type: "string" },
  "checkpoint-every": { type: "string" },
  "keep-checkpoints": { type: "string" },
  "cache-dir": { type: "string" },
  interpretable: { type: "boolean" },
  groups: { type: "string" },
  "interp-every": { type: "string" },
  "energy-every-step": { type: "boolean" },
  "energy-normalize": { type: "boolean" },
  "lambda2-g": { type: "string" },
  "fixed-share-weight": { type: "string" },
  "fixed-share-limit": { type: "string" },
  "other-groups": { type: "string" },
  lambda1: { type: "string" },
  "energy-pool": { type: "string" },
  "init-from": { type: "string" },
  "init-discriminator": { type: "boolean" },
  "discriminator-warmup": { type: "string" },
  "freeze-head": { type: "boolean" },
  "train-head": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The continuation settings that change an interpretable run's loss. */
const INTERPRETABLE_CONTINUATION = [
  "lambda1",
  "lambda2-g",
  "fixed-share-weight",
  "fixed-share-limit",
];

/**
 * Training settings a continuation from a checkpoint file (a new run folder)
 * may change, e.g. to turn DiffAugment on once the discriminator overfits:
 * the run folder's config records them. A run folder's own resume keeps its
 * settings, so that its config describes every step it logged.
 */
const CONTINUATION_SETTINGS = [
  "augment",
  "r1",
  "lr-g",
  "lr-d",
  ...INTERPRETABLE_CONTINUATION,
  "freeze-head",
  "train-head",
];

/** The flags only a continuation from a checkpoint file takes, as messages name them. */
const FILE_ONLY_FLAGS = ["out", "name", ...CONTINUATION_SETTINGS].map((f) => `--${f}`);
const FILE_ONLY_FLAGS_TEXT = `${FILE_ONLY_FLAGS.slice(0, -1).join(", ")} and ${
  FILE_ONLY_FLAGS.at(-1)
}`;

/**
 * Flags a resumed run may change: the schedule, where it goes, and where its
 * images are now (the same images: a folder of another number of them is
 * refused), never the model.
 */
const RESUMABLE = new Set([
  "resume",
  "data",
  "out",
  "name",
  "steps",
  "log-every",
  "sample-every",
  "checkpoint-every",
  "keep-checkpoints",
  "cache-dir",
  ...CONTINUATION_SETTINGS,
]);

/** Parses the command line; throws {@link UsageError} or {@link ConfigError}. */
export function parseTrainArgs(args: string[]): TrainCommand | "help" {
  const values: Record<string, string | boolean | undefined> = parseFlags(args, OPTIONS);
  if (values.help) return "help";
  const int = (flag: string) => integerFlag(flag, values[flag] as string | undefined);
  // Flags whose 0 the config refuses: said as such for -1 and 0 alike.
  const count = (flag: string) => positiveIntegerFlag(flag, values[flag] as string | undefined);
  const real = (flag: string) => numberFlag(flag, values[flag] as string | undefined);
  const schedule = definedOnly({
    steps: count("steps"),
    logEvery: count("log-every"),
    sampleEvery: count("sample-every"),
    checkpointEvery: count("checkpoint-every"),
    keepCheckpoints: count("keep-checkpoints"),
  });
  const cacheDir = values["cache-dir"] as string | undefined;

  if (values.resume !== undefined) {
    const fixed = Object.keys(values).filter((k) => values[k] !== undefined && !RESUMABLE.has(k));
    if (fixed.length > 0) {
      throw new UsageError(
        `--${fixed[0]} cannot be combined with --resume: the run's config fixes the model ` +
          "and data; only --steps, the log, sample and checkpoint intervals, --data (where " +
          `its images are now) and (from a checkpoint file) ${FILE_ONLY_FLAGS_TEXT} can change.`,
      );
    }
    return {
      kind: "resume",
      run: values.resume as string,
      overrides: {
        ...schedule,
        ...definedOnly({
          lrG: real("lr-g"),
          lrD: real("lr-d"),
          augment: augmentFlag(values.augment as string | undefined),
          r1Gamma: real("r1"),
          freezeHead: headFlag(values["freeze-head"], values["train-head"]),
          data: values.data === undefined
            ? undefined
            : { kind: "folder" as const, path: values.data as string },
        }),
        ...(INTERPRETABLE_CONTINUATION.some((k) => values[k] !== undefined)
          ? {
            interpretable: definedOnly({
              lambda1: real("lambda1"),
              lambda2G: real("lambda2-g"),
              fixedShareWeight: real("fixed-share-weight"),
              fixedShareLimit: real("fixed-share-limit"),
            }),
          }
          : {}),
      },
      changesSettings: CONTINUATION_SETTINGS.some((k) => values[k] !== undefined),
      out: (values.out as string | undefined) ?? "runs",
      name: values.name as string | undefined,
      cacheDir,
    };
  }

  const data = values.data as string | undefined;
  if ((data === undefined) === !values.synthetic) {
    throw new UsageError("give exactly one of --data <folder>, --synthetic or --resume <run>.");
  }
  if (values["freeze-head"] || values["train-head"]) {
    throw new UsageError(
      "--freeze-head and --train-head continue a run: give them with --resume <checkpoint file>.",
    );
  }
  const network = definedOnly({
    architecture: values.architecture as TrainConfig["network"]["architecture"] | undefined,
    resolution: int("resolution") as 32 | 64 | undefined,
    width: count("width"),
    targetChannels: count("target-channels"),
    latent: count("latent"),
  });
  const seed = int("seed");
  const groups = int("groups"), every = int("interp-every");
  const interpretable = definedOnly({
    groups,
    every,
    lambda1: real("lambda1"),
    lambda2G: real("lambda2-g"),
    otherGroups: values["other-groups"] as InterpretableConfig["otherGroups"] | undefined,
    fixedShareWeight: real("fixed-share-weight"),
    fixedShareLimit: real("fixed-share-limit"),
    energyPool: int("energy-pool"),
    energyEveryStep: values["energy-every-step"] ? true : undefined,
    energyNormalize: values["energy-normalize"] ? true : undefined,
  });
  if (!values.interpretable && Object.keys(interpretable).length > 0) {
    throw new UsageError(
      "--groups, --interp-every, --lambda1, --other-groups, --lambda2-g, " +
        "--fixed-share-weight, --fixed-share-limit, --energy-pool, --energy-every-step and " +
        "--energy-normalize only apply with --interpretable.",
    );
  }
  const partial: PartialConfig = {
    interpretable: values.interpretable ? interpretable : null,
    initFrom: (values["init-from"] as string | undefined) ?? null,
    initDiscriminator: values["init-discriminator"] === true,
    ...schedule,
    ...definedOnly({
      discriminatorWarmup: int("discriminator-warmup"),
      batch: count("batch"),
      lrG: real("lr-g"),
      lrD: real("lr-d"),
      seed,
      loss: values.loss as TrainConfig["loss"] | undefined,
      augment: augmentFlag(values.augment as string | undefined),
      r1Gamma: real("r1"),
      emaImages: int("ema-images"),
    }),
    network,
    flip: !values["no-flip"],
    data: data !== undefined
      ? { kind: "folder", path: data }
      : { kind: "synthetic", count: int("synthetic-count") ?? 4096, seed: seed ?? 0 },
  };
  if (data !== undefined && values["synthetic-count"] !== undefined) {
    throw new UsageError("--synthetic-count only applies with --synthetic.");
  }
  const config = withFlagNames(FLAG_OF_FIELD, () => resolveConfig(partial));
  const name = (values.name as string | undefined) ??
    `${
      data !== undefined ? basename(data.replace(/\/+$/, "")) || "data" : "synthetic"
    }-${config.network.resolution}`;
  return { kind: "new", config, out: (values.out as string | undefined) ?? "runs", name, cacheDir };
}

/** The flag of each config field a command line sets, for resolveConfig's messages. */
const FLAG_OF_FIELD: Record<string, string> = {
  "network.architecture": "--architecture",
  "network.resolution": "--resolution",
  "network.latent": "--latent",
  "network.width": "--width",
  "network.targetChannels": "--target-channels",
  "data.count": "--synthetic-count",
  "interpretable.groups": "--groups",
  "interpretable.every": "--interp-every",
  "interpretable.lambda1": "--lambda1",
  "interpretable.lambda2G": "--lambda2-g",
  "interpretable.otherGroups": "--other-groups",
  "interpretable.energyPool": "--energy-pool",
  "interpretable.fixedShareWeight": "--fixed-share-weight",
  "interpretable.fixedShareLimit": "--fixed-share-limit",
  loss: "--loss",
  augment: "--augment",
  r1Gamma: "--r1",
  emaImages: "--ema-images",
  lrG: "--lr-g",
  lrD: "--lr-d",
  batch: "--batch",
  steps: "--steps",
  seed: "--seed",
  logEvery: "--log-every",
  sampleEvery: "--sample-every",
  checkpointEvery: "--checkpoint-every",
  keepCheckpoints: "--keep-checkpoints",
  initDiscriminator: "--init-discriminator",
  initFrom: "--init-from",
  discriminatorWarmup: "--discriminator-warmup",
};

/** `--augment`: a comma-separated list, or "none"; checked by resolveConfig. */
function augmentFlag(text: string | undefined): TrainConfig["augment"] | undefined {
  if (text === undefined) return undefined;
  if (text === "none") return [];
  return text.split(",").map((a) => a.trim()) as TrainConfig["augment"];
}

/** `freezeHead` from --freeze-head or --train-head (not both); undefined: the run's own. */
function headFlag(freeze: unknown, train: unknown): boolean | undefined {
  if (freeze && train) {
    throw new UsageError("give --freeze-head or --train-head, not both.");
  }
  return freeze ? true : train ? false : undefined;
}

function definedOnly<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<
    T
  >;
}

/** Runs the command; returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runCommandLine({ usage: USAGE, parse: parseTrainArgs, run: runCommand }, args);
}

async function runCommand(command: TrainCommand): Promise<number> {
  let config: TrainConfig, resumed: { run: RunFolder; checkpoint: LoadedCheckpoint } | null = null;
  let fromFile: Safetensors | null = null;
  const resumeFrom = command.kind === "resume" ? await pathKind(command.run) : null;
  if (command.kind === "resume" && resumeFrom === "missing") {
    throw new RunFolderError(
      `${command.run} does not exist; --resume takes a run folder or a checkpoint file.`,
    );
  }
  if (command.kind === "resume" && resumeFrom === "file") {
    fromFile = await readCheckpoint(command.run);
    config = continuedConfig(
      checkpointConfig(fromFile, command.run),
      command.overrides,
      command.run,
    );
    requireStepsAhead(checkpointState(fromFile).step, config.steps, command.run);
  } else if (command.kind === "resume") {
    if (command.name !== undefined || command.out !== "runs" || command.changesSettings) {
      throw new RunFolderError(
        `${FILE_ONLY_FLAGS_TEXT} apply when --resume names a checkpoint file (continued in a ` +
          `new run folder); ${command.run} is not one.`,
      );
    }
    const opened = await openRun(command.run);
    await lockRun(opened.run);
    config = continuedConfig(opened.config, command.overrides, command.run);
    // Which checkpoint resumes, and whether it is behind --steps, shows before the data load.
    const checkpoint = await readNewestCheckpoint(opened.run, (line) => console.error(line));
    requireStepsAhead(checkpointState(checkpoint).step, config.steps, opened.run.dir);
    resumed = { run: opened.run, checkpoint };
  } else {
    config = command.config;
    // A checkpoint that is not there ends the run before the data load, not after it.
    if (config.initFrom) {
      await Deno.stat(config.initFrom).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        throw new CheckpointError(
          `the checkpoint ${config.initFrom} (--init-from) does not exist.`,
        );
      });
    }
  }
  // A new run folder goes under --out: a file there ends the run before the data load.
  if (command.kind === "new" || fromFile) {
    if (await pathKind(command.out) === "file") {
      throw new RunFolderError(`--out ${command.out} is a file; give the folder runs go under.`);
    }
  }
  const set = await loadTrainingData(config.data, config.network.resolution, command.cacheDir);
  if (set.count < config.batch) {
    console.error(
      `warning: ${set.count} image${set.count === 1 ? "" : "s"} for batches of ${config.batch}: ` +
        "each batch repeats them, and a GAN learns little from so few.",
    );
  }
  const engine = await initEngine();
  console.error(
    `adapter: ${describeBackend(engine.report)}`,
  );
  const trainer = new GanTrainer(config, set);
  try {
    const run = fromFile && command.kind === "resume"
      ? await continueFromFile(command, fromFile, trainer, set)
      : command.kind === "resume"
      ? await resumeRun(resumed!.run, resumed!.checkpoint, trainer)
      : await startRun(command, trainer, set);
    const params = (net: { parameters(): { shape: readonly number[] }[] }) =>
      net.parameters().reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    console.error(
      `generator ${(params(trainer.generator) / 1e6).toFixed(2)}M parameters, discriminator ` +
        `${
          (params(trainer.discriminator) / 1e6).toFixed(2)
        }M; batch ${config.batch}, ${config.steps} steps`,
    );
    const progress = new Progress("step", config.steps, { startDone: trainer.step, unit: "step" });
    return await withStopSignal(progress, async (signal) => {
      const outcome = await trainLoop({ trainer, run, signal, progress });
      console.error(
        `${outcome.interrupted ? "interrupted" : "finished"} at step ${outcome.step}; ` +
          `checkpoint ${outcome.checkpoint}` +
          (outcome.interrupted ? `\ncontinue with: deno task train --resume ${run.dir}` : ""),
      );
      return outcome.interrupted ? 130 : 0;
    });
  } finally {
    trainer.dispose();
  }
}

/** Restores `checkpoint`, the newest readable one of `run`, into `trainer`. */
async function resumeRun(
  run: RunFolder,
  checkpoint: LoadedCheckpoint,
  trainer: GanTrainer,
): Promise<RunFolder> {
  loadingCheckpoint(
    checkpoint.file,
    "it is no checkpoint of this run, whose config.json gives other networks.",
    () => trainer.restore(checkpoint),
  );
  await truncateLog(run, trainer.step);
  await writeConfig(run, trainer.config);
  console.error(`resuming ${run.dir} at step ${trainer.step} of ${trainer.config.steps}`);
  if (isSlim(checkpoint)) console.error(slimResumeNote(checkpoint.file));
  return run;
}

/**
 * The config of a run continued from `config` with `overrides`; the
 * interpretable settings are merged into the run's own, which a plain GAN's
 * run does not have.
 */
export function continuedConfig(
  config: TrainConfig,
  overrides: Extract<TrainCommand, { kind: "resume" }>["overrides"],
  run: string,
): TrainConfig {
  const { interpretable, ...rest } = overrides;
  if (rest.data && config.data.kind !== "folder") {
    throw new ConfigError(
      `--data says where a run's images are now; ${run} trained on the synthetic set.`,
    );
  }
  if (interpretable && !config.interpretable) {
    throw new ConfigError(
      `--lambda1, --lambda2-g, --fixed-share-weight and --fixed-share-limit change an ` +
        `interpretable run's settings; ${run} is a plain GAN's.`,
    );
  }
  return withFlagNames(FLAG_OF_FIELD, () =>
    resolveConfig({
      ...config,
      ...rest,
      interpretable: config.interpretable && { ...config.interpretable, ...interpretable },
    }));
}

/**
 * The name of a run continued from checkpoint `file`: its run's, for a file
 * in a run folder's checkpoints (`runs/00003-faces-64/checkpoints/...`:
 * `faces-64`), else the file's (`celeba-64.safetensors`: `celeba-64`).
 */
export function continuedRunName(file: string): string {
  const path = resolve(file);
  const run = basename(dirname(dirname(path)));
  const fromRun = basename(dirname(path)) === "checkpoints" && /^\d{5}-(.+)$/.exec(run);
  return fromRun ? fromRun[1] : basename(path).replace(/\.safetensors$/, "");
}

/**
 * Continues the run of a checkpoint file in a new run folder: the
 * checkpoint carries the config and everything exact resume needs.
 */
async function continueFromFile(
  command: Extract<TrainCommand, { kind: "resume" }>,
  checkpoint: Safetensors,
  trainer: GanTrainer,
  set: ImageSet,
): Promise<RunFolder> {
  loadingCheckpoint(
    command.run,
    "its tensors do not fit the config it carries: another version of the trainer wrote it.",
    () => trainer.restore(checkpoint),
  );
  const name = command.name ?? continuedRunName(command.run);
  const run = await newRunFolder(command.out, name, trainer.config, set);
  console.error(
    `run: ${run.dir}, continuing ${command.run} at step ${trainer.step} of ${trainer.config.steps}`,
  );
  if (isSlim(checkpoint)) console.error(slimResumeNote(command.run));
  return run;
}

/** A new run folder under `out`, with its config and a grid of the training images. */
async function newRunFolder(
  out: string,
  name: string,
  config: TrainConfig,
  set: ImageSet,
): Promise<RunFolder> {
  const run = await createRun(out, name, config);
  await writeFileAtomic(`${run.samplesDir}/reals.png`, realsGridPng(set));
  return run;
}

/**
 * What to give so that this run's networks are the checkpoint's: the network
 * flags its config has otherwise (or all of them, for a checkpoint without a
 * readable config).
 */
function networkAdvice(ours: NetworkConfig, checkpoint: Safetensors, file: string): string {
  let theirs: NetworkConfig;
  try {
    theirs = checkpointConfig(checkpoint, file).network;
  } catch {
    return "give --resolution, --width, --target-channels, --latent and --architecture as its " +
      "run had them.";
  }
  const flags = (Object.keys(theirs) as (keyof NetworkConfig)[])
    .filter((field) => ours[field] !== theirs[field])
    .map((field) => `${FLAG_OF_FIELD[`network.${field}`]} ${theirs[field]}`);
  if (flags.length === 0) return "its networks are of another version of the trainer.";
  return `its run had ${flags.join(" ")}: give ${flags.length > 1 ? "them" : "it"} too.`;
}

/** Creates the run folder of a new run (after loading --init-from, so a bad file leaves none). */
async function startRun(
  command: Extract<TrainCommand, { kind: "new" }>,
  trainer: GanTrainer,
  set: ImageSet,
): Promise<RunFolder> {
  const { config } = trainer;
  const { initFrom } = config;
  if (initFrom) {
    const checkpoint = await readCheckpoint(initFrom);
    loadingCheckpoint(
      initFrom,
      networkAdvice(config.network, checkpoint, initFrom),
      () => trainer.initFrom(checkpoint),
    );
  }
  const run = await newRunFolder(command.out, command.name, config, set);
  const nets = config.initDiscriminator ? "generator and discriminator" : "generator";
  console.error(`run: ${run.dir}${config.initFrom ? `, ${nets} from ${config.initFrom}` : ""}`);
  return run;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
