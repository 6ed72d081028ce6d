/**
 * What the command-line entry points (`deno task train`, `export`,
 * `eval:faces`, `figures`, the benchmarks) share: the usage error, integer
 * flags, which errors are the user's (printed as one `error:` line, never
 * with a stack trace), and the run of a program with its exit statuses.
 *
 * @module
 */

import { STOP_SIGNALS } from "../core/stop_signals.ts";
import { UserError } from "../core/user_error.ts";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "./config.ts";
import { isDiskError } from "./os_error.ts";
import { SWAP_MODES, type SwapMode } from "../core/swap_maps.js";
import { MAX_SEED } from "../model/latents.ts";
import type { Progress } from "../core/progress.ts";

/** A command line that cannot be used; printed with a hint of `--help`. */
export class UsageError extends UserError {
  override name = "UsageError";
}

/** The value of flag `--flag` as a non-negative integer (undefined when absent); throws {@link UsageError}. */
export function integerFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new UsageError(`--${flag} takes a non-negative integer, got "${text}".`);
  }
  return n;
}

/**
 * The value of flag `--flag` as a positive integer (undefined when absent);
 * throws {@link UsageError} that says so for 0, -1 or text alike.
 */
export function positiveIntegerFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--${flag} takes a positive integer, got "${text}".`);
  }
  return n;
}

/** Seeds an evaluation may draw after its first: `--seed` leaves room for them below 2^32. */
export const SEED_ROOM = 1_000_000;

/**
 * An evaluation's first seed `--seed` from `text`: an integer such that the
 * seeds it draws after it (fewer than {@link SEED_ROOM}) are seeds too;
 * throws {@link UsageError}.
 */
export function seedFlag(text: string | undefined): number | undefined {
  const seed = integerFlag("seed", text);
  if (seed !== undefined && seed > MAX_SEED + 1 - SEED_ROOM) {
    throw new UsageError(
      `--seed takes 0..${MAX_SEED + 1 - SEED_ROOM}, got ${seed}: the seeds drawn after it must ` +
        `stay under 2^32.`,
    );
  }
  return seed;
}

/** The number `--flag` gives (undefined when absent); throws {@link UsageError} for other text. */
export function numberFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const x = Number(text);
  if (text.trim() === "" || !Number.isFinite(x)) {
    throw new UsageError(`--${flag} takes a number, got "${text}".`);
  }
  return x;
}

/**
 * The value of flag `--flag`, one of `choices` (undefined when absent);
 * throws {@link UsageError} naming them.
 */
export function choiceFlag<const T extends string>(
  flag: string,
  text: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (text === undefined) return undefined;
  if (!(choices as readonly string[]).includes(text)) {
    const named = `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`;
    throw new UsageError(`--${flag} takes ${named}, got "${text}".`);
  }
  return text as T;
}

/**
 * A swap-mode flag's value (`--swap-mode` unless `flag` names another), one of
 * {@link SWAP_MODES} (undefined when absent); throws {@link UsageError}.
 */
export function swapModeFlag(
  text: string | undefined,
  flag = "swap-mode",
): SwapMode | undefined {
  return choiceFlag(flag, text, SWAP_MODES);
}

/**
 * File-system errors, which at a command line come of the paths the user gave
 * (an output folder that is a file, a missing folder to write into); Deno's
 * message names the path.
 */
const PATH_ERRORS = [
  Deno.errors.NotFound,
  Deno.errors.AlreadyExists,
  Deno.errors.IsADirectory,
  Deno.errors.NotADirectory,
  Deno.errors.PermissionDenied,
];

/**
 * The one-line message of a user error: a file-system error's in words (Deno
 * writes "File exists (os error 17): mkdir 'out'"), naming its path.
 */
export function userErrorMessage(error: Error): string {
  const parsed = /^(.*) \(os error \d+\): (\w+) '(.*?)'(?: -> '.*')?$/.exec(error.message);
  if (!parsed) return error.message;
  const [, reason, operation, path] = parsed;
  if (error instanceof Deno.errors.AlreadyExists && operation === "mkdir") {
    return `${path} is a file, where a folder is to be made: give another path.`;
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return `${path} cannot be reached: a part of it is a file, not a folder (${operation}).`;
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return `${path} is a folder, where a file was expected (${operation}).`;
  }
  if (error instanceof Deno.errors.NotFound) return `${path} does not exist (${operation}).`;
  if (error instanceof Deno.errors.PermissionDenied) {
    return `${path}: permission denied (${operation}).`;
  }
  return `${path}: ${reason} (${operation}).`;
}

/**
 * Whether `error` is one of the errors a command prints as one `error:` line:
 * a {@link UserError}, or a file-system or disk error of a path the user gave.
 */
export function isUserError(error: unknown): error is Error {
  return error instanceof UserError || PATH_ERRORS.some((type) => error instanceof type) ||
    isDiskError(error);
}

/** The line after a usage error: the usage itself would push the error off the screen. */
export const USAGE_HINT = "(--help prints the usage)";

/** A command-line program: its usage text, how it reads its arguments, and what it does. */
export interface CommandLine<C> {
  usage: string;
  /** The command, or "help"; throws {@link UsageError} or ConfigError for one that cannot be used. */
  parse: (args: string[]) => C | "help";
  /** Does the work; returns the exit status (0 when nothing is returned). */
  run: (command: C) => Promise<number | void>;
}

/**
 * Runs `program` on `args` and returns its exit status: 2 with the error and
 * {@link USAGE_HINT} for a command line that cannot be used, 0 after printing the
 * usage for --help, 1 with one `error:` line for a user error (see
 * {@link isUserError}); anything else is a bug and propagates. A stop signal
 * meanwhile ends it with one line ({@link listenForStopSignals}).
 */
export async function runCommandLine<C>(program: CommandLine<C>, args: string[]): Promise<number> {
  listenForStopSignals();
  let command: C | "help";
  try {
    command = program.parse(args);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof ConfigError)) throw error;
    console.error(`error: ${error.message}\n${USAGE_HINT}`);
    return 2;
  }
  if (command === "help") {
    console.log(program.usage);
    return 0;
  }
  try {
    return (await program.run(command)) ?? 0;
  } catch (error) {
    if (!isUserError(error)) throw error;
    console.error(`error: ${userErrorMessage(error)}`);
    return 1;
  }
}

/** The flags of `args` as `options` declares them; throws {@link UsageError} (no positionals). */
export function parseFlags<const O extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: O,
) {
  // "--steps -5" would read as a flag "-5": passed as "--steps=-5", the flag's own check says
  // what it takes.
  const joined: string[] = [];
  for (let k = 0; k < args.length; k++) {
    const next = args[k + 1];
    if (/^--[^=]+$/.test(args[k]) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${args[k]}=${next}`);
      k++;
    } else joined.push(args[k]);
  }
  try {
    return parseArgs({ args: joined, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * The flags of a script's command line (a benchmark's): as {@link parseFlags}
 * with `--help` (`-h`) added, which prints `usage` and exits with status 0; a
 * command line that cannot be used prints one `error:` line and
 * {@link USAGE_HINT}, and exits with status 2. A stop signal ends the script
 * with one line ({@link listenForStopSignals}).
 */
export function scriptFlags<const O extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: O,
  usage: string,
) {
  listenForStopSignals();
  const withHelp = { ...options, help: { type: "boolean", short: "h" } } as
    & O
    & { help: { type: "boolean"; short: "h" } };
  let values;
  try {
    values = parseFlags(args, withHelp);
  } catch (error) {
    exitWithUsageError((error as Error).message);
  }
  // Inside the generic function the parsed type is not resolved: read the flag it added.
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    Deno.exit(0);
  }
  return values;
}

/**
 * Ends a script (a benchmark) whose command line cannot be used: one `error:`
 * line, {@link USAGE_HINT}, status 2.
 */
export function exitWithUsageError(message: string): never {
  console.error(`error: ${message}\n${USAGE_HINT}`);
  Deno.exit(2);
}

/** A script's positive integer flag `--name` from `text`; a bad one ends it ({@link exitWithUsageError}). */
export function positiveScriptFlag(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    exitWithUsageError(`--${name} takes a positive integer, got "${text}".`);
  }
  return value;
}

/**
 * Signals closer than this to the first are the same request to stop: under
 * `deno task` a terminal's Ctrl-C (or a SIGTERM to the process group, as
 * `timeout` sends) reaches the command twice, from the terminal and passed on
 * by the task runner, and the copy must not quit before the checkpoint.
 */
export const REPEATED_SIGNAL_MS = 1000;

/** Who handles a stop signal now, the newest first; see {@link onStopSignal}. */
const stopHandlers: ((status: number) => void)[] = [];
let listeningForStop = false;

/**
 * Makes stop signals (Ctrl-C, SIGTERM) end the program with one line and the
 * shell's status for the signal (130 for Ctrl-C), unless a handler of
 * {@link onStopSignal} takes them. One listener serves the whole process:
 * Deno keeps a signal caught once a listener was added, even after it is
 * removed, so a program that listened a while would then ignore Ctrl-C.
 */
export function listenForStopSignals(): void {
  if (listeningForStop) return;
  listeningForStop = true;
  for (const { signal, status } of STOP_SIGNALS) {
    Deno.addSignalListener(signal, () => {
      const handler = stopHandlers.at(-1);
      if (handler) return handler(status);
      console.error("\nstopped.");
      Deno.exit(status);
    });
  }
}

/** Hands stop signals to `handler` (with the signal's exit status) until the returned function is called. */
export function onStopSignal(handler: (status: number) => void): () => void {
  listenForStopSignals();
  stopHandlers.push(handler);
  return () => {
    const k = stopHandlers.lastIndexOf(handler);
    if (k >= 0) stopHandlers.splice(k, 1);
  };
}

/**
 * A temporary `folder` that an interrupted program (Ctrl-C, SIGTERM) removes
 * before it quits with one line and the signal's status; the returned
 * function removes it and stops watching.
 */
export function temporaryFolder(folder: string): () => Promise<void> {
  const stopWatching = onStopSignal((status) => {
    try {
      Deno.removeSync(folder, { recursive: true });
    } catch {
      // Already gone: nothing to tidy.
    }
    console.error(`\nstopped; removed ${folder}.`);
    Deno.exit(status);
  });
  return async () => {
    stopWatching();
    await Deno.remove(folder, { recursive: true });
  };
}

/**
 * Runs long work with a signal that the first Ctrl-C (or SIGTERM) aborts, so
 * that the work can stop after writing a checkpoint; another one, at least
 * {@link REPEATED_SIGNAL_MS} after the first, quits at once with status 130.
 * Deno runs signal listeners only between the work's synchronous stretches
 * (a training step), so presses during one arrive together, as one.
 */
export async function withStopSignal<T>(
  progress: Progress,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let firstAt = 0;
  const onSignal = (status: number) => {
    if (controller.signal.aborted) {
      if (performance.now() - firstAt < REPEATED_SIGNAL_MS) return;
      progress.message(
        "quitting now, without a checkpoint of this step: --resume continues " +
          "from the last one written",
      );
      Deno.exit(status);
    }
    firstAt = performance.now();
    progress.message(
      "stopping: finishing this step and writing a checkpoint (press Ctrl-C again to quit now)",
    );
    controller.abort();
  };
  const stopWatching = onStopSignal(onSignal);
  try {
    return await work(controller.signal);
  } finally {
    stopWatching();
  }
}
