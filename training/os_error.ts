/**
 * Operating-system errors as Deno throws them: its own classes
 * (`Deno.errors.NotFound`...) and, for what has no class (a full disk, a
 * read-only mount), plain errors; both carry the system's `code`.
 *
 * @module
 */

/** An error of the operating system, with its code ("ENOSPC", "ENOENT"...). */
export type OsError = Error & { code: string };

/** Whether `error` comes of the operating system (it carries the system's code). */
export function isOsError(error: unknown): error is OsError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "string";
}

/** Codes of errors that come of the disk the user chose: full, read-only, over quota, file too large. */
const DISK_ERROR_CODES: ReadonlySet<string> = new Set(["ENOSPC", "EROFS", "EDQUOT", "EFBIG"]);

/** Whether `error` comes of the disk the user chose rather than of this program. */
export function isDiskError(error: unknown): error is OsError {
  return isOsError(error) && DISK_ERROR_CODES.has(error.code);
}
