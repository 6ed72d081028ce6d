/**
 * The files under a folder, recursively, in a fixed order (so that sets,
 * cache keys and shuffles built from them are reproducible).
 *
 * @module
 */

import { join } from "node:path";

/** A file under the folder. */
export interface ListedFile {
  path: string;
  size: number;
  /** Modification time in ms, 0 when unknown. */
  mtime: number;
}

/** Every file under the folder `root` (which must exist), links to files included, sorted by path. */
export async function listFiles(root: string): Promise<ListedFile[]> {
  const files: ListedFile[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile || entry.isSymlink) {
        // A link counts as the file it points to (links to folders are not followed, so no
        // cycle); a broken one is skipped.
        const stat = await Deno.stat(path).catch(() => null);
        if (stat?.isFile) files.push({ path, size: stat.size, mtime: stat.mtime?.getTime() ?? 0 });
      }
    }
  };
  await walk(root);
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Why a folder the user named cannot be listed, as the end of a sentence about it. */
export type FolderProblem = "does not exist" | "is not a folder";

/** {@link listFiles} of `root`, or what is wrong with it: nothing there, or a file. */
export async function listFolder(root: string): Promise<ListedFile[] | FolderProblem> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(root);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "does not exist";
    throw error;
  }
  if (!info.isDirectory) return "is not a folder";
  return await listFiles(root);
}

/** Whether `path` is a file, something else that exists (a folder), or nothing. */
export async function pathKind(path: string): Promise<"file" | "other" | "missing"> {
  try {
    return (await Deno.stat(path)).isFile ? "file" : "other";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "missing";
    throw error;
  }
}
