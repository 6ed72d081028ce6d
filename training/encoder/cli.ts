/**
 * `deno task train:encoder --generator <GAN checkpoint>`: trains an encoder
 * (image -> latent) for a trained generator, in a resumable run folder;
 * `deno task export --encoder <run>` puts it into the model bundle.
 *
 * Exit status: 0 done, 1 error, 2 bad command line, 130 interrupted.
 *
 * @module
 */

import { basename } from "node:path";
import { initEngine } from "../engine/engine.ts";
import { describeBackend } from "../engine/backend.ts";
import {
  integerFlag,
  numberFlag,
  parseFlags,
  runCommandLine,
  UsageError,
  withStopSignal,
} from "../command_line.ts";
import { checkpointConfig, CheckpointError, loadingCheckpoint } from "../checkpoint.ts";
import { requireStepsAhead, withFlagNames } from "../config.ts";
import type { Safetensors } from "../safetensors.ts";
import { loadTrainingData } from "../data/load.ts";
import {
  createRun,
  type LoadedCheckpoint,
  lockRun,
  readCheckpoint,
  readHashedCheckpoint,
  readNewestCheckpoint,
  readRunConfig,
  RunFolderError,
  truncateLog,
  writeConfig,
} from "../run_folder.ts";
import { Progress } from "../../core/progress.ts";
import {
  checkEncoderConfig,
  checkEncoderSettings,
  ENCODER_DEFAULTS,
  ENCODER_RUN_KIND,
  type EncoderConfig,
  type EncoderSettings,
} from "./config.ts";
import { encoderState, EncoderTrainer } from "./trainer.ts";
import { trainEncoderLoop } from "./train.ts";

/** The usage text printed by `--help` and with command-line errors. */
export const USAGE = `Usage: deno task train:encoder --generator <GAN checkpoint file> [options]
       deno task train:encoder --resume <encoder run folder> [--steps N]

Trains an encoder E (image -> latent) for the generator of a GAN checkpoint: photos x are
reconstructed as G(E(x)) (pixel and discriminator-feature errors) and latents z come back from
E(G(z)) (the cycle). G and D stay as they are. The last --holdout images of the data are never
trained on; each sample step logs their reconstructions' PSNR and draws them.

Options (defaults in brackets):
  --data <folder>           face images [the GAN run's data]
  --out <folder>            where run folders are created [runs]
  --name <name>             run name suffix [encoder-<checkpoint name>]
  --steps <n>               encoder steps [${ENCODER_DEFAULTS.steps}]
  --batch <n>               photos (and latents) per step [${ENCODER_DEFAULTS.batch}]
  --width <n>               channels of the encoder's first block [the GAN's width]
  --init-from <checkpoint>  start from this encoder checkpoint's weights (an encoder of the
                            generator this one was fine-tuned from); the optimiser starts afresh
  --holdout <n>             images at the end of the data kept out of training [${ENCODER_DEFAULTS.holdout}]
  --lr <x>                  Adam learning rate [${ENCODER_DEFAULTS.lr}]
  --pixel <x>               weight of the pixel error [${ENCODER_DEFAULTS.weights.pixel}]
  --features <x>            weight of the discriminator-feature error [${ENCODER_DEFAULTS.weights.features}]
  --cycle <x>               weight of the latent cycle error [${ENCODER_DEFAULTS.weights.cycle}]
  --seed <n>                seed of weights, latents and data order [${ENCODER_DEFAULTS.seed}]
  --trained-weights         invert the trained generator, not the run's average of its weights
                            (export must then use --trained-weights too)
  --no-flip                 do not mirror training photos
  --sample-every <n>        steps between held-out measurements [${ENCODER_DEFAULTS.sampleEvery}]
  --checkpoint-every <n>    steps between checkpoints [${ENCODER_DEFAULTS.checkpointEvery}]
  --keep-checkpoints <n>    newest checkpoints kept [${ENCODER_DEFAULTS.keepCheckpoints}]
  --cache-dir <folder>      decoded-data cache [$IGAN_CACHE_DIR, $XDG_CACHE_HOME/interpretable-gan
                            or ~/.cache/interpretable-gan]
  -h, --help                this text`;

/** The settings a new run's command line gives (the rest default). */
export type EncoderFlags =
  & Partial<
    Pick<
      EncoderConfig,
      | "steps"
      | "batch"
      | "width"
      | "holdout"
      | "lr"
      | "seed"
      | "sampleEvery"
      | "checkpointEvery"
      | "keepCheckpoints"
      | "data"
      | "initFrom"
    >
  >
  & { flip: boolean; trainedWeights: boolean; weights: Partial<EncoderConfig["weights"]> };

/** A parsed command line. */
export type EncoderCommand =
  | {
    kind: "new";
    generator: string;
    out: string;
    name?: string;
    flags: EncoderFlags;
    cacheDir?: string;
  }
  | { kind: "resume"; run: string; steps?: number; cacheDir?: string };

/** The flag of each config field the command line sets, for the config check's messages. */
const FLAG_OF_FIELD: Record<string, string> = {
  steps: "--steps",
  batch: "--batch",
  width: "--width",
  initFrom: "--init-from",
  holdout: "--holdout",
  lr: "--lr",
  seed: "--seed",
  sampleEvery: "--sample-every",
  checkpointEvery: "--checkpoint-every",
  keepCheckpoints: "--keep-checkpoints",
  "weights.pixel": "--pixel",
  "weights.features": "--features",
  "weights.cycle": "--cycle",
};

/** Parses the command line; throws {@link UsageError}, or ConfigError for a setting out of range. */
export function parseEncoderArgs(args: string[]): EncoderCommand | "help" {
  const v = parseFlags(args, {
    generator: { type: "string" },
    resume: { type: "string" },
    data: { type: "string" },
    out: { type: "string" },
    name: { type: "string" },
    steps: { type: "string" },
    batch: { type: "string" },
    width: { type: "string" },
    "init-from": { type: "string" },
    holdout: { type: "string" },
    lr: { type: "string" },
    pixel: { type: "string" },
    features: { type: "string" },
    cycle: { type: "string" },
    seed: { type: "string" },
    "trained-weights": { type: "boolean" },
    "no-flip": { type: "boolean" },
    "sample-every": { type: "string" },
    "checkpoint-every": { type: "string" },
    "keep-checkpoints": { type: "string" },
    "cache-dir": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (v.help) return "help";
  const steps = integerFlag("steps", v.steps);
  if (v.resume !== undefined) {
    const others = Object.keys(v).filter((k) => !["resume", "steps", "cache-dir"].includes(k));
    if (others.length > 0) {
      throw new UsageError(
        "--resume continues a run as configured; only --steps and --cache-dir may change " +
          `(got --${others[0]}).`,
      );
    }
    return { kind: "resume", run: v.resume, steps, cacheDir: v["cache-dir"] };
  }
  if (v.generator === undefined) {
    throw new UsageError("--generator <GAN checkpoint file> (or --resume <run>) is required.");
  }
  const number = (flag: "lr" | "pixel" | "features" | "cycle") => numberFlag(flag, v[flag]);
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<T>;
  const command: EncoderCommand = {
    kind: "new",
    generator: v.generator,
    out: v.out ?? "runs",
    name: v.name,
    cacheDir: v["cache-dir"],
    flags: {
      ...defined({
        steps,
        batch: integerFlag("batch", v.batch),
        width: integerFlag("width", v.width),
        initFrom: v["init-from"],
        holdout: integerFlag("holdout", v.holdout),
        lr: number("lr"),
        seed: integerFlag("seed", v.seed),
        sampleEvery: integerFlag("sample-every", v["sample-every"]),
        checkpointEvery: integerFlag("checkpoint-every", v["checkpoint-every"]),
        keepCheckpoints: integerFlag("keep-checkpoints", v["keep-checkpoints"]),
        data: v.data === undefined ? undefined : { kind: "folder" as const, path: v.data },
      }),
      flip: !v["no-flip"],
      trainedWeights: v["trained-weights"] ?? false,
      weights: defined({
        pixel: number("pixel"),
        features: number("features"),
        cycle: number("cycle"),
      }),
    },
  };
  // As deno task train does: a setting out of range is refused, naming its flag, before any
  // file is read.
  withFlagNames(FLAG_OF_FIELD, () => checkEncoderSettings(settingsOf(command.flags)));
  return command;
}

/** The settings of a new run's `flags`: the defaults, the flags over them. */
function settingsOf({ weights, trainedWeights: _, ...flags }: EncoderFlags): EncoderSettings {
  return { ...ENCODER_DEFAULTS, ...flags, weights: { ...ENCODER_DEFAULTS.weights, ...weights } };
}

/** Runs the command; returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runCommandLine({ usage: USAGE, parse: parseEncoderArgs, run: runCommand }, args);
}

/**
 * The config of a new run: the sizes and data of the GAN checkpoint (`gan`,
 * as read with its SHA-256), the defaults, the flags.
 */
export function newEncoderConfig(
  command: Extract<EncoderCommand, { kind: "new" }>,
  gan: { checkpoint: Safetensors; sha256: string },
): EncoderConfig {
  const ganConfig = checkpointConfig(gan.checkpoint, command.generator);
  const { trainedWeights, data = ganConfig.data } = command.flags;
  return checkEncoderConfig({
    kind: ENCODER_RUN_KIND,
    width: ganConfig.network.width,
    ...settingsOf(command.flags),
    data,
    generator: { checkpoint: command.generator, sha256: gan.sha256, trainedWeights },
    network: ganConfig.network,
  });
}

async function runCommand(command: EncoderCommand): Promise<number> {
  let config: EncoderConfig, gan: Awaited<ReturnType<typeof readHashedCheckpoint>>;
  let resumed: Awaited<ReturnType<typeof readRunConfig>>["run"] | null = null;
  let newest: LoadedCheckpoint | null = null;
  if (command.kind === "resume") {
    const opened = await readRunConfig(command.run);
    if ((opened.json as { kind?: unknown }).kind !== ENCODER_RUN_KIND) {
      throw new RunFolderError(`${command.run} is not an encoder run (deno task train:encoder).`);
    }
    await lockRun(opened.run);
    const saved = opened.json as EncoderConfig;
    config = checkEncoderConfig({
      ...saved,
      initFrom: saved.initFrom ?? null, // runs made before the option have none
      ...(command.steps === undefined ? {} : { steps: command.steps }),
    });
    resumed = opened.run;
    newest = await readNewestCheckpoint(resumed, (line) => console.error(line));
    // Nothing to train shows before the data load, as train's resume does.
    requireStepsAhead(encoderState(newest).step, config.steps, resumed.dir);
    gan = await readHashedCheckpoint(config.generator.checkpoint);
    if (gan.sha256 !== config.generator.sha256) {
      throw new CheckpointError(
        `${config.generator.checkpoint} is not the checkpoint this encoder run was started for ` +
          "(its SHA-256 differs); put that file back, or train a new encoder.",
      );
    }
  } else {
    gan = await readHashedCheckpoint(command.generator);
    config = newEncoderConfig(command, gan);
  }
  const set = await loadTrainingData(config.data, config.network.resolution, command.cacheDir);
  const engine = await initEngine();
  console.error(`adapter: ${describeBackend(engine.report)}`);
  const trainer = new EncoderTrainer(config, set, gan.checkpoint);
  try {
    let run;
    if (resumed && newest) {
      loadingCheckpoint(
        newest.file,
        "it is no checkpoint of this run, whose config.json gives other networks.",
        () => trainer.restore(newest),
      );
      await truncateLog(resumed, trainer.step);
      await writeConfig(resumed, config);
      run = resumed;
      console.error(`resuming ${run.dir} at step ${trainer.step} of ${config.steps}`);
    } else {
      const c = command as Extract<EncoderCommand, { kind: "new" }>;
      const name = c.name ?? `encoder-${basename(c.generator).replace(/\.safetensors$/, "")}`;
      const { initFrom } = config;
      if (initFrom !== null) {
        const checkpoint = await readCheckpoint(initFrom);
        loadingCheckpoint(
          initFrom,
          "give --width as its run had it.",
          () => trainer.initFrom(checkpoint),
        );
      }
      run = await createRun(c.out, name, config);
      console.error(
        `run: ${run.dir}, the encoder of ${config.generator.checkpoint}` +
          (config.initFrom === null ? "" : `, starting from ${config.initFrom}`),
      );
    }
    console.error(
      `${trainer.trainingCount} photos to train on, ${config.holdout} held out; batch ` +
        `${config.batch}, ${config.steps} steps`,
    );
    const progress = new Progress("step", config.steps, { startDone: trainer.step, unit: "step" });
    return await withStopSignal(progress, async (signal) => {
      const outcome = await trainEncoderLoop({ trainer, run, set, signal, progress });
      console.error(
        `${outcome.interrupted ? "interrupted" : "finished"} at step ${outcome.step}; ` +
          `checkpoint ${outcome.checkpoint}` +
          (outcome.interrupted
            ? `\ncontinue with: deno task train:encoder --resume ${run.dir}`
            : ""),
      );
      return outcome.interrupted ? 130 : 0;
    });
  } finally {
    trainer.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
