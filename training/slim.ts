/**
 * `deno task checkpoint:slim --checkpoint <file> --out <file>`: a checkpoint without
 * Adam's moments, and with the energy model's W in half precision. The moments
 * are as large as the weights they train, and W grows with the groups (at
 * width 64 and C = 32 the whole checkpoint is 94 MB, its slim copy 41.6 MB), so
 * the slim copy is what the repository holds and what comes back from a lent
 * GPU machine, whose returns are capped (`tools/device/`). Training continues
 * from it (`deno task train --resume <file>`) with Adam started afresh for every
 * parameter and W rounded to f16 (each value moves by at most 1/2048 of
 * itself); everything else (the weights, their average, D, the groups, the
 * data order and latent streams) continues exactly.
 *
 * Exit status: 0 done, 1 error, 2 bad command line.
 *
 * @module
 */

import { pathKind } from "../core/files.ts";
import { CheckpointError, checkpointState, type TrainerState } from "./checkpoint.ts";
import { parseFlags, runCommandLine, UsageError } from "./command_line.ts";
import { readCheckpoint } from "./run_folder.ts";
import { encodeSafetensors, type Safetensors } from "./safetensors.ts";
import { writeFileAtomic } from "./atomic_file.ts";
import { ENERGY_WEIGHT } from "./interpretable/module.ts";

/** The usage text printed by `--help` and with command-line errors. */
export const USAGE = `Usage: deno task checkpoint:slim --checkpoint <file> --out <file>

Writes a copy of a training checkpoint without Adam's moments and with the energy model in half
precision (about half its size). Training continues from the copy with deno task train --resume
<file>, with Adam started afresh.

  --checkpoint <file>  the checkpoint (a run's checkpoints/step-*.safetensors)
  --out <file>         where the copy goes (a new file)
  -h, --help           this text`;

/** The prefixes of the optimisers' tensors (see `checkpoint.ts`). */
const OPTIMIZER_PREFIXES = ["optimizer_g.", "optimizer_d."];

/** Whether a checkpoint's tensor is the energy model's W, which a slim copy stores in f16. */
export const isEnergyWeight = (name: string): boolean => name === ENERGY_WEIGHT;

/**
 * `checkpoint` without its optimisers' moments and step counts; the other
 * tensors are shared, not copied.
 */
export function slimCheckpoint(checkpoint: Safetensors): Safetensors {
  const state: TrainerState = {
    ...checkpointState(checkpoint),
    optimizerSteps: { optimizer_g: {}, optimizer_d: {} },
  };
  const tensors = Object.fromEntries(
    Object.entries(checkpoint.tensors).filter(([name]) =>
      !OPTIMIZER_PREFIXES.some((prefix) => name.startsWith(prefix))
    ),
  );
  return { tensors, metadata: { ...checkpoint.metadata, state: JSON.stringify(state) } };
}

/**
 * Whether training resumed from `checkpoint` starts Adam afresh: it has
 * taken steps, and holds no optimiser state (a slim checkpoint).
 */
export function isSlim(checkpoint: Safetensors): boolean {
  const { step, optimizerSteps } = checkpointState(checkpoint);
  const counts = Object.values(optimizerSteps).flatMap((steps) => Object.keys(steps));
  return step > 0 && counts.length === 0;
}

/** The line a resume from `file`, a slim checkpoint, prints. */
export function slimResumeNote(file: string): string {
  return `note: ${file} holds no optimiser state (a slim checkpoint): Adam starts afresh, so the ` +
    "run continues, though not exactly as it would have without the pause.";
}

interface SlimCommand {
  input: string;
  out: string;
}

/** Parses the command line; throws {@link UsageError}. */
export function parseSlimArgs(args: string[]): SlimCommand | "help" {
  const values = parseFlags(args, {
    checkpoint: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  if (values.checkpoint === undefined) throw new UsageError("give --checkpoint <file> to slim.");
  if (values.out === undefined) throw new UsageError("give --out <file>, where the copy goes.");
  return { input: values.checkpoint, out: values.out };
}

async function runSlim(command: SlimCommand): Promise<number> {
  if (await pathKind(command.out) !== "missing") {
    throw new CheckpointError(`${command.out} exists; --out takes a new file.`);
  }
  const checkpoint = await readCheckpoint(command.input);
  const bytes = encodeSafetensors(slimCheckpoint(checkpoint), { halfPrecision: isEnergyWeight });
  await writeFileAtomic(command.out, bytes);
  console.error(
    `wrote ${command.out} (${(bytes.length / 1e6).toFixed(1)} MB, step ` +
      `${checkpointState(checkpoint).step}, without Adam's moments, the energy model in f16)`,
  );
  return 0;
}

/** Runs the command; returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runCommandLine({ usage: USAGE, parse: parseSlimArgs, run: runSlim }, args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
