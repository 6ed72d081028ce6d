/**
 * Loads a folder of JPEG and PNG images (recursively) as an {@link ImageSet},
 * centre-cropped and resized, and caches the decoded set in one binary file
 * keyed by the folder, its file list (names, sizes, modification times) and
 * the resolution, so the next run with the same data starts at once.
 *
 * Cache file layout: the bytes `IGDS1\n`, a little-endian u32 header length,
 * a UTF-8 JSON header ({@link CacheHeader}), then the `[N, S, S, 3]` pixels.
 *
 * @module
 */

import { sha256Hex } from "../../core/sha256.ts";
import { isOsError } from "../os_error.ts";
import { basename, join, relative, resolve } from "node:path";
import { homedir } from "node:os";
import { type ListedFile, listFolder } from "../../core/files.ts";
import { centerCropResize, decodeImage, ImageDecodeError } from "../../core/image.ts";
import { checkResolution, DataError, type ImageSet } from "./image_set.ts";
import { writeFileAtomic } from "../atomic_file.ts";

/** A file of the folder that was not used, and why. */
export interface SkippedFile {
  /** Path relative to the folder. */
  file: string;
  reason: string;
}

/** What {@link loadImageFolder} found. */
export interface LoadedFolder {
  set: ImageSet;
  /** Files that are not readable JPEG or PNG images. */
  skipped: SkippedFile[];
  /** Whether the set came from the cache. */
  fromCache: boolean;
  /** The cache file (read or written), or null with caching off. */
  cacheFile: string | null;
}

/** Options of {@link loadImageFolder}. */
export interface LoadFolderOptions {
  /** Side of the square training images. */
  resolution: number;
  /** Folder of cache files; null turns caching off. Default {@link defaultCacheDir}. */
  cacheDir?: string | null;
  /** Called after each decoded file (not on a cache hit). */
  onProgress?: (done: number, total: number) => void;
}

interface CacheHeader {
  resolution: number;
  count: number;
  skipped: SkippedFile[];
}

const CACHE_MAGIC = new TextEncoder().encode("IGDS1\n");
const CACHE_FORMAT = 1;

/** `$IGAN_CACHE_DIR`, else `$XDG_CACHE_HOME/interpretable-gan`, else `~/.cache/interpretable-gan`. */
export function defaultCacheDir(): string {
  const explicit = Deno.env.get("IGAN_CACHE_DIR");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  return join(xdg || join(homedir(), ".cache"), "interpretable-gan");
}

/** Loads (or reads from the cache) every image under `folder`. */
export async function loadImageFolder(
  folder: string,
  options: LoadFolderOptions,
): Promise<LoadedFolder> {
  checkResolution(options.resolution);
  const root = resolve(folder);
  const files = await listDataFiles(root);
  if (files.length === 0) {
    throw new DataError(
      `the data folder ${root} holds no files; point --data at a folder of JPEG or PNG images.`,
    );
  }
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  const cacheFile = cacheDir === null
    ? null
    : join(cacheDir, `${cacheKey(root, files, options.resolution)}.igds`);
  const name = basename(root);
  if (cacheFile) {
    const cached = await readCache(cacheFile, name);
    if (cached) return { ...cached, fromCache: true, cacheFile };
  }

  const size = options.resolution;
  const skipped: SkippedFile[] = [];
  const images: Uint8Array[] = [];
  for (const [k, file] of files.entries()) {
    const rel = relative(root, file.path);
    try {
      images.push(centerCropResize(decodeImage(await Deno.readFile(file.path)), size).data);
    } catch (error) {
      if (!(error instanceof ImageDecodeError || error instanceof Deno.errors.PermissionDenied)) {
        throw error;
      }
      skipped.push({ file: rel, reason: error.message });
    }
    options.onProgress?.(k + 1, files.length);
  }
  if (images.length === 0) {
    throw new DataError(
      `none of the ${files.length} files under ${root} is a readable JPEG or PNG image ` +
        `(first: ${skipped[0].file}: ${skipped[0].reason}).`,
    );
  }
  const pixels = new Uint8Array(images.length * size * size * 3);
  images.forEach((image, k) => pixels.set(image, k * image.length));
  const set: ImageSet = { name, resolution: size, count: images.length, pixels };
  // The cache only saves the next run's decoding: a disk that cannot take it stops nothing.
  const cached = cacheFile !== null &&
    await writeCache(cacheFile, set, skipped).then(() => true, (error: Error) => {
      if (!isOsError(error)) throw error;
      console.error(
        `warning: the decoded images were not cached (${error.message}); going on.`,
      );
      return false;
    });
  return { set, skipped, fromCache: false, cacheFile: cached ? cacheFile : null };
}

/** A one-line warning about skipped files, or null when there are none. */
export function skippedWarning(skipped: readonly SkippedFile[], total: number): string | null {
  if (skipped.length === 0) return null;
  const examples = skipped.slice(0, 3).map((s) => `${s.file} (${s.reason})`).join(", ");
  return `warning: skipped ${skipped.length} of ${total} files that are not readable JPEG or ` +
    `PNG images: ${examples}${skipped.length > 3 ? ", ..." : ""}`;
}

/** The files under `root`; a missing folder or a file is a {@link DataError}. */
async function listDataFiles(root: string): Promise<ListedFile[]> {
  const listed = await listFolder(root);
  if (typeof listed === "string") {
    throw new DataError(
      `the data folder ${root} ${listed}; pass a folder of JPEG or PNG images to --data.`,
    );
  }
  return listed;
}

function cacheKey(root: string, files: ListedFile[], resolution: number): string {
  const key = JSON.stringify({
    format: CACHE_FORMAT,
    root,
    resolution,
    files: files.map((f) => [relative(root, f.path), f.size, f.mtime]),
  });
  // Half the digest: the cache files' names, as they have been since the first cache.
  return sha256Hex(key).slice(0, 32);
}

async function readCache(
  file: string,
  name: string,
): Promise<{ set: ImageSet; skipped: SkippedFile[] } | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  // A truncated or foreign file is rebuilt rather than trusted.
  if (bytes.length < CACHE_MAGIC.length + 4 || !CACHE_MAGIC.every((b, k) => bytes[k] === b)) {
    return null;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const headerLength = view.getUint32(CACHE_MAGIC.length, true);
  const start = CACHE_MAGIC.length + 4;
  let header: CacheHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(start, start + headerLength)));
  } catch {
    return null;
  }
  const pixels = bytes.subarray(start + headerLength);
  if (pixels.length !== header.count * header.resolution ** 2 * 3) return null;
  return {
    set: { name, resolution: header.resolution, count: header.count, pixels },
    skipped: header.skipped,
  };
}

async function writeCache(file: string, set: ImageSet, skipped: SkippedFile[]): Promise<void> {
  const header: CacheHeader = { resolution: set.resolution, count: set.count, skipped };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(CACHE_MAGIC.length + 4 + json.length + set.pixels.length);
  bytes.set(CACHE_MAGIC);
  new DataView(bytes.buffer).setUint32(CACHE_MAGIC.length, json.length, true);
  bytes.set(json, CACHE_MAGIC.length + 4);
  bytes.set(set.pixels, CACHE_MAGIC.length + 4 + json.length);
  await Deno.mkdir(join(file, ".."), { recursive: true });
  await writeFileAtomic(file, bytes);
}
