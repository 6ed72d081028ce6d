/**
 * Reading a model bundle folder (`manifest.json` and every ONNX file its
 * `files` name: `head.onnx` and `tail.onnx`, and where the model has them
 * the encoder, the VJPs and the energy model) and verifying it: every file
 * present, the manifest valid JSON of a known format whose fields fit
 * together, and each ONNX file's SHA-256 equal to the manifest's. Shapes are checked against the ONNX graphs when sessions
 * are opened (`sessions.ts`). Each failure is one {@link BundleError} naming
 * the file and the problem.
 *
 * @module
 */

import { fileURLToPath, pathToFileURL } from "node:url";
import { resolve } from "node:path";
import {
  BUNDLE_FILES,
  type BundlePart,
  type Manifest,
  manifestInconsistencies,
  READABLE_BUNDLE_FORMATS,
} from "./manifest.ts";
import { ManifestSchema } from "./manifest.ts";
import { sha256Hex } from "../core/sha256.ts";
import { UserError } from "../core/user_error.ts";

/**
 * The embedded default bundle (`model/default/`): what the server serves
 * without `IGAN_MODEL`, and what the tools measure without `--model`.
 */
export const DEFAULT_MODEL = new URL("./default/", import.meta.url);

/** A bundle that cannot be served; `file` is the path of the offending file. */
export class BundleError extends UserError {
  override name = "BundleError";
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.file = file;
  }
}

/** A bundle's verified contents. */
export interface Bundle {
  /** The folder it was read from. */
  location: URL;
  manifest: Manifest;
  head: Uint8Array;
  tail: Uint8Array;
  /** The encoder (image -> latent), or null for a bundle without one. */
  encoder: Uint8Array | null;
  /** The head's and tail's vector-Jacobian products, or null for a bundle without them. */
  headVjp: Uint8Array | null;
  tailVjp: Uint8Array | null;
  /** g_W and its gradient (interpretable models), or null. */
  energy: Uint8Array | null;
}

/** A folder given as a path or a URL, as a URL ending in a slash. */
export function folderUrl(folder: string | URL): URL {
  const url = typeof folder === "string" ? pathToFileURL(resolve(folder)) : new URL(folder);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/** How a file of the bundle is named in messages: its path for local files, else its URL. */
function display(url: URL): string {
  return url.protocol === "file:" ? fileURLToPath(url) : url.href;
}

async function readBundleFile(folder: URL, name: string): Promise<Uint8Array> {
  const url = new URL(name, folder);
  try {
    return await Deno.readFile(url);
  } catch (error) {
    const given = display(folder).replace(/\/$/, "");
    if (error instanceof Deno.errors.NotFound) {
      if (name === BUNDLE_FILES.manifest && !(await exists(folder))) {
        throw new BundleError(
          given,
          "there is no such folder" +
            (/\/~(\/|$)/.test(given) ? " (a ~ is not expanded here: write the whole path)." : "."),
        );
      }
      // Without its manifest the folder is likely no bundle at all: a training run's, perhaps.
      const runFolder = name === BUNDLE_FILES.manifest && folder.protocol === "file:" &&
        await exists(new URL("config.json", folder));
      throw new BundleError(
        display(url),
        runFolder
          ? "the file is missing: this is a training run's folder (it has config.json), not a " +
            "bundle; export it with deno task export, or give it to a tool's --run."
          : name === BUNDLE_FILES.manifest
          ? "the file is missing from the bundle; a bundle is a folder written by deno task export."
          : "the file is missing from the bundle.",
      );
    }
    if (error instanceof Deno.errors.NotADirectory) {
      throw new BundleError(
        given,
        `is a file; a bundle is the folder that holds ${BUNDLE_FILES.manifest} (give that folder).`,
      );
    }
    throw new BundleError(display(url), `cannot be read: ${(error as Error).message}`);
  }
}

/** Whether `url` names something that exists (a folder of a `file:` URL; other URLs are taken to). */
async function exists(url: URL): Promise<boolean> {
  if (url.protocol !== "file:") return true;
  try {
    await Deno.stat(url);
    return true;
  } catch (error) {
    return !(error instanceof Deno.errors.NotFound);
  }
}

/** Parses and checks manifest text; `file` names it in errors. */
export function parseManifest(text: string, file: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BundleError(file, `is not valid JSON: ${(error as Error).message}`);
  }
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof format !== "string" || !READABLE_BUNDLE_FORMATS.includes(format)) {
    throw new BundleError(
      file,
      `has format ${JSON.stringify(format)}; this server reads ${
        READABLE_BUNDLE_FORMATS.map((f) => `"${f}"`).join(", ")
      } ` +
        "(re-export the model with this version's deno task export).",
    );
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BundleError(file, `field "${issue.path.join(".")}": ${issue.message}`);
  }
  const problems = manifestInconsistencies(parsed.data);
  if (problems.length > 0) throw new BundleError(file, problems.join("; "));
  return parsed.data;
}

/** Reads and verifies the bundle in `folder` (a path or URL); throws {@link BundleError}. */
export async function readBundle(folder: string | URL): Promise<Bundle> {
  const location = folderUrl(folder);
  const manifestUrl = new URL(BUNDLE_FILES.manifest, location);
  const manifest = parseManifest(
    new TextDecoder().decode(await readBundleFile(location, BUNDLE_FILES.manifest)),
    display(manifestUrl),
  );
  const parts = (Object.keys(manifest.files) as BundlePart[]).filter((p) => manifest.files[p]);
  const files = new Map(
    await Promise.all(parts.map(async (part) => {
      const { path, sha256 } = manifest.files[part]!;
      const bytes = await readBundleFile(location, path);
      const actual = sha256Hex(bytes);
      if (actual !== sha256) {
        throw new BundleError(
          display(new URL(path, location)),
          `SHA-256 is ${actual} but the manifest says ${sha256}: the file was changed or ` +
            "belongs to another export.",
        );
      }
      return [part, bytes] as const;
    })),
  );
  const optional = (part: BundlePart) => files.get(part) ?? null;
  return {
    location,
    manifest,
    head: files.get("head")!,
    tail: files.get("tail")!,
    encoder: optional("encoder"),
    headVjp: optional("headVjp"),
    tailVjp: optional("tailVjp"),
    energy: optional("energy"),
  };
}

/**
 * The groups of `manifest`'s face (of the bundle in `folder`), for tools that
 * swap faces; a {@link BundleError} naming its manifest when it names none.
 */
export function faceGroups(manifest: Manifest, folder: string | URL): Manifest["groups"] {
  const groups = (manifest.face ?? []).map((id) => manifest.groups[id]);
  if (groups.length === 0) {
    throw new BundleError(
      display(new URL(BUNDLE_FILES.manifest, folderUrl(folder))),
      "names no face groups, so faces cannot be swapped (export the bundle with --face <group " +
        "ids>, or measure it with deno task eval:faces --write).",
    );
  }
  return groups;
}
