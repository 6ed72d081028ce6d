/**
 * The base class of errors that come of what the user gave (a path, a data
 * set, a bundle, a setting) and whose message says what to do about it. A
 * command line prints such an error as one `error:` line rather than a stack
 * trace (`training/command_line.ts`), recognising it by this class alone: it
 * lives in core/ so that every layer's errors can extend it without the
 * command line importing the modules that throw them.
 *
 * @module
 */

/** An error of the user's input or data, whose message names what to change. */
export class UserError extends Error {
  override name = "UserError";
}
