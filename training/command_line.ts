/**
 * What the command-line entry points (`deno task train`, `export`,
 * `eval:concepts`, the benchmarks) share: the usage error, integer flags, and
 * which errors are the user's (printed as one `error:` line, never with a
 * stack trace).
 *
 * @module
 */

import { CheckpointError } from "./checkpoint.ts";
import { ConfigError } from "./config.ts";
import { DataError } from "./data/image_set.ts";
import { EngineError } from "./engine/errors.ts";
import { RunFolderError, RunWriteError } from "./run_folder.ts";
import { BundleError } from "../model/bundle.ts";
import { RealFacesError } from "../faces/real_faces.ts";
import { IdentityListError } from "../faces/verification.ts";

/** A command line that cannot be used; printed with the usage. */
export class UsageError extends Error {
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

/** Errors of the user's input or data, printed as one line rather than with a stack trace. */
const USER_ERRORS = [
  DataError,
  ConfigError,
  RunFolderError,
  RunWriteError,
  CheckpointError,
  EngineError,
  BundleError,
  RealFacesError,
  IdentityListError,
];

/** Whether `error` is one of the errors a command prints as one `error:` line. */
export function isUserError(error: unknown): error is Error {
  return USER_ERRORS.some((type) => error instanceof type);
}
