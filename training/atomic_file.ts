/**
 * Atomic file writes: a crash leaves either the old file or the new one,
 * never half of one.
 *
 * @module
 */

/** Writes `bytes` to `file` through a temporary file beside it and a rename. */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${file}.${Deno.pid}.tmp`;
  try {
    await Deno.writeFile(temporary, bytes);
    await Deno.rename(temporary, file);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/** {@link writeFileAtomic} for text. */
export function writeTextFileAtomic(file: string, text: string): Promise<void> {
  return writeFileAtomic(file, new TextEncoder().encode(text));
}
