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
