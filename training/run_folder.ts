/**
 * A training run's folder:
 *
 *   runs/00003-celeba-64/
 *     config.json                 the TrainConfig
 *     log.jsonl                   one JSON object per logged step (or warm-up update)
 *     samples/reals.png           training images
 *     samples/step-000500.png     generated from fixed latents
 *     checkpoints/step-000500.safetensors
 *
 * Checkpoints and config are written atomically; the newest checkpoint is the
 * one with the highest step.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic, writeTextFileAtomic } from "./atomic_file.ts";
import { type PartialConfig, resolveStoredConfig, type TrainConfig } from "./config.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type Safetensors,
  SafetensorsError,
} from "./safetensors.ts";
import { CheckpointError } from "./checkpoint.ts";
import { sha256Hex } from "../core/sha256.ts";
import { isOsError } from "./os_error.ts";
import { ENCODER_RUN_KIND, type EncoderConfig } from "./encoder/config.ts";
import { UserError } from "../core/user_error.ts";

/** Paths of a run folder. */
export class RunFolder {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  get configFile(): string {
    return join(this.dir, "config.json");
  }

  get logFile(): string {
    return join(this.dir, "log.jsonl");
  }

  get samplesDir(): string {
    return join(this.dir, "samples");
  }

  get checkpointsDir(): string {
    return join(this.dir, "checkpoints");
  }

  /** The checkpoint file of `step`. */
  checkpointFile(step: number): string {
    return join(this.checkpointsDir, `step-${String(step).padStart(6, "0")}.safetensors`);
  }

  /** The sample grid file of `step`. */
  sampleFile(step: number): string {
    return join(this.samplesDir, `step-${String(step).padStart(6, "0")}.png`);
  }
}

/** A run folder that is missing or unreadable. */
export class RunFolderError extends UserError {
  override name = "RunFolderError";
}

/**
 * Creates `<root>/<NNNNN>-<name>` (the next free number) with its config (a
 * GAN run's `TrainConfig`, or an encoder run's `EncoderConfig`), held by this
 * process ({@link lockRun}).
 */
export async function createRun(
  root: string,
  name: string,
  config: TrainConfig | EncoderConfig,
): Promise<RunFolder> {
  await Deno.mkdir(root, { recursive: true });
  let next = 0;
  for await (const entry of Deno.readDir(root)) {
    const id = /^(\d{5})-/.exec(entry.name);
    if (id) next = Math.max(next, Number(id[1]) + 1);
  }
  const safeName = name.replace(/[^A-Za-z0-9._-]+/g, "_");
  // Claimed by creating it: of runs started together, each gets a folder of its own.
  let run: RunFolder;
  while (true) {
    run = new RunFolder(join(root, `${String(next).padStart(5, "0")}-${safeName}`));
    try {
      await Deno.mkdir(run.dir);
      break;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      next++;
    }
  }
  await lockRun(run);
  await Deno.mkdir(run.samplesDir, { recursive: true });
  await Deno.mkdir(run.checkpointsDir, { recursive: true });
  await writeConfig(run, config);
  return run;
}

/** Whether process `pid` runs: on Linux, its /proc entry; elsewhere it is assumed to. */
async function processRuns(pid: number): Promise<boolean> {
  if (Deno.build.os !== "linux") return true;
  return await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
}

/** How long a lock file without a readable pid counts as being written, in ms. */
const LOCK_WRITING_MS = 10_000;

/**
 * Holds `run` for this process until it exits (`training.lock`, its pid), so
 * that a second trainer of the same folder stops at once instead of
 * interleaving checkpoints and log lines with the first. A lock whose process
 * is gone (killed, or ended by an uncaught error) is taken over, on Linux.
 */
export async function lockRun(run: RunFolder): Promise<void> {
  const file = join(run.dir, "training.lock");
  // Written aside and linked into place: the lock never exists without its pid.
  const mine = `${file}.${Deno.pid}`;
  await Deno.writeTextFile(mine, String(Deno.pid));
  try {
    for (let tries = 0; tries < 3; tries++) {
      try {
        await Deno.link(mine, file);
        addEventListener("unload", () => releaseLock(file));
        return;
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
      const text = await Deno.readTextFile(file).catch(() => null);
      const pid = Number(text?.trim());
      if (pid === Deno.pid) return; // this process holds it already (a run resumed in-process)
      const held = Number.isInteger(pid) && pid > 0
        ? await processRuns(pid)
        : await Deno.stat(file).then(
          (s) => Date.now() - (s.mtime?.getTime() ?? 0) < LOCK_WRITING_MS,
          () => false,
        );
      if (held) {
        throw new RunFolderError(
          `${run.dir} is being trained by ${pid > 0 ? `process ${pid}` : "another process"}; ` +
            `stop it first (if nothing trains it, remove ${file}).`,
        );
      }
      // Moved aside, not removed: of several processes taking it over, one moves it.
      await Deno.rename(file, `${file}.stale-${Deno.pid}`).then(
        () => Deno.remove(`${file}.stale-${Deno.pid}`),
        () => {},
      );
    }
    throw new RunFolderError(
      `${run.dir}: other processes kept taking its lock as this one started.`,
    );
  } finally {
    await Deno.remove(mine).catch(() => {});
  }
}

/** Removes this process's lock at exit (synchronously: Deno runs no other work then). */
function releaseLock(file: string): void {
  try {
    if (Deno.readTextFileSync(file).trim() === String(Deno.pid)) Deno.removeSync(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return; // the folder went first
    console.error(`warning: could not remove ${file}: ${(error as Error).message}`);
  }
}

/** Writes the run's config.json. */
export function writeConfig(run: RunFolder, config: TrainConfig | EncoderConfig): Promise<void> {
  return writeTextFileAtomic(run.configFile, JSON.stringify(config, null, 2) + "\n");
}

/** Opens an existing run folder and parses its config.json, whichever kind of run it is. */
export async function readRunConfig(dir: string): Promise<{ run: RunFolder; json: unknown }> {
  const run = new RunFolder(dir);
  let text: string;
  try {
    text = await Deno.readTextFile(run.configFile);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      const exists = await Deno.stat(dir).then(() => true, () => false);
      throw new RunFolderError(
        exists
          ? `${dir} is not a run folder (it has no config.json); pass a folder made by deno ` +
            "task train or train:encoder."
          : `${dir} does not exist; pass a folder made by deno task train or train:encoder.`,
      );
    }
    if (error instanceof Deno.errors.NotADirectory) {
      throw new RunFolderError(
        `${dir} is a file, not a run folder; pass the folder a training run wrote (a ` +
          "checkpoint file goes with --resume or --checkpoint).",
      );
    }
    throw error;
  }
  try {
    return { run, json: JSON.parse(text) };
  } catch (error) {
    throw new RunFolderError(`${run.configFile} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Opens an existing GAN run and reads its config. */
export async function openRun(dir: string): Promise<{ run: RunFolder; config: TrainConfig }> {
  const { run, json } = await readRunConfig(dir);
  if ((json as { kind?: unknown }).kind === ENCODER_RUN_KIND) {
    throw new RunFolderError(
      `${dir} is an encoder run (deno task train:encoder), not a GAN run.`,
    );
  }
  return { run, config: resolveStoredConfig(json as PartialConfig) };
}

/**
 * The run folder could not be written (a full disk, a folder that became
 * unwritable): the run stops, naming its last good checkpoint.
 */
export class RunWriteError extends UserError {
  override name = "RunWriteError";
}

/**
 * Runs a write into the run folder; an operating-system error (one with a
 * `code`, such as ENOSPC) becomes a {@link RunWriteError} that says what
 * could not be written and which checkpoint is the last good one.
 */
export async function writingRun<T>(
  run: RunFolder,
  what: string,
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isOsError(error)) throw error;
    let saved: { step: number; file: string } | undefined;
    try {
      saved = (await listCheckpoints(run)).at(-1);
    } catch {
      saved = undefined; // the folder cannot even be listed
    }
    throw new RunWriteError(
      `could not write ${what} in ${run.dir}: ${error.message}. ` +
        (saved
          ? `The last good checkpoint is ${saved.file} (step ${saved.step}); free space or fix the folder, then resume from it.`
          : "No checkpoint was written yet; free space or fix the folder, then start again."),
    );
  }
}

/** The run's checkpoints, oldest first. */
export async function listCheckpoints(run: RunFolder): Promise<{ step: number; file: string }[]> {
  const found: { step: number; file: string }[] = [];
  try {
    for await (const entry of Deno.readDir(run.checkpointsDir)) {
      const match = /^step-(\d+)\.safetensors$/.exec(entry.name);
      if (match) found.push({ step: Number(match[1]), file: join(run.checkpointsDir, entry.name) });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found.sort((a, b) => a.step - b.step);
}

/**
 * `file`, or the run's newest checkpoint when none is given; throws
 * CheckpointError, naming what it was for, when the run has none.
 */
export async function chosenCheckpoint(
  run: RunFolder,
  file: string | undefined,
  purpose: string,
): Promise<string> {
  const chosen = file ?? (await listCheckpoints(run)).at(-1)?.file;
  if (!chosen) throw new CheckpointError(`${run.dir} has no checkpoint to ${purpose}.`);
  return chosen;
}

/** Writes a checkpoint atomically and deletes all but the newest `keep`. */
export async function writeCheckpoint(
  run: RunFolder,
  step: number,
  bytes: Uint8Array,
  keep: number,
): Promise<string> {
  const file = run.checkpointFile(step);
  await Deno.mkdir(run.checkpointsDir, { recursive: true });
  await writeFileAtomic(file, bytes);
  const all = await listCheckpoints(run);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    // The new checkpoint is written: an old one that cannot go only takes space.
    await Deno.remove(old.file).catch((error: Error) =>
      console.error(`warning: the old checkpoint ${old.file} was not removed (${error.message}).`)
    );
  }
  return file;
}

/** What a checkpoint is written from: a trainer's step and state, and how many checkpoints to keep. */
export interface CheckpointSource {
  readonly step: number;
  readonly config: { readonly keepCheckpoints: number };
  snapshot(): Promise<Safetensors>;
}

/**
 * Writes a checkpoint of the trainer's current step; returns its path. A
 * failed write (the temporary file is removed) throws {@link RunWriteError}.
 */
export async function saveCheckpoint(trainer: CheckpointSource, run: RunFolder): Promise<string> {
  const bytes = encodeSafetensors(await trainer.snapshot());
  return await writingRun(
    run,
    `the checkpoint of step ${trainer.step}`,
    () => writeCheckpoint(run, trainer.step, bytes, trainer.config.keepCheckpoints),
  );
}

/** Reads a checkpoint file. */
export async function readCheckpoint(file: string): Promise<Safetensors> {
  return (await readHashedCheckpoint(file)).checkpoint;
}

/**
 * Reads a checkpoint file, and the SHA-256 of its bytes (what an encoder run
 * records of the GAN checkpoint it inverts), from one read.
 */
export async function readHashedCheckpoint(
  file: string,
): Promise<{ checkpoint: Safetensors; sha256: string }> {
  try {
    const bytes = await Deno.readFile(file);
    return { checkpoint: decodeSafetensors(bytes), sha256: sha256Hex(bytes) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CheckpointError(`the checkpoint ${file} does not exist.`);
    }
    if (error instanceof Deno.errors.IsADirectory) {
      throw new CheckpointError(
        `${file} is a folder; pass a checkpoint file (a run's checkpoints/step-*.safetensors).`,
      );
    }
    if (error instanceof SafetensorsError) {
      throw new CheckpointError(`${file} is not a readable checkpoint: ${error.message}`);
    }
    throw error;
  }
}

/** Appends one record to log.jsonl. */
export async function appendLog(run: RunFolder, record: Record<string, unknown>): Promise<void> {
  await Deno.writeTextFile(run.logFile, JSON.stringify(record) + "\n", { append: true });
}

/**
 * Drops log records after `step`: a run resumed from the checkpoint of
 * `step` logs those steps again.
 */
export async function truncateLog(run: RunFolder, step: number): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(run.logFile);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  const kept = text.split("\n").filter((line) => {
    if (!line.trim()) return false;
    try {
      return (JSON.parse(line).step ?? 0) <= step;
    } catch {
      return false; // a line cut by a crash
    }
  });
  await writeTextFileAtomic(run.logFile, kept.map((l) => l + "\n").join(""));
}

/** A checkpoint's contents and the file they were read from. */
export type LoadedCheckpoint = Safetensors & { file: string };

/**
 * The newest readable checkpoint of `run`: a corrupt or truncated one (its
 * checksum says so) is reported through `warn` by name and the next older
 * one is tried. Throws {@link CheckpointError} when none is readable.
 */
export async function readNewestCheckpoint(
  run: RunFolder,
  warn: (line: string) => void,
): Promise<LoadedCheckpoint> {
  const checkpoints = (await listCheckpoints(run)).reverse();
  if (checkpoints.length === 0) {
    throw new CheckpointError(`${run.dir} has no checkpoint yet; start a new run instead.`);
  }
  for (const { file } of checkpoints) {
    try {
      return { ...await readCheckpoint(file), file };
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      warn(`warning: ${error.message.replace(/\.$/, "")}; trying an older checkpoint`);
    }
  }
  throw new CheckpointError(
    `none of the ${checkpoints.length} checkpoints in ${run.dir} is readable (see the warnings ` +
      "above); start a new run, or restore a checkpoint from a copy.",
  );
}
