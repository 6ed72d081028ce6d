/**
 * The studio (`GET /`): a single page with its script, the swap arithmetic
 * and pictures it shares with the server (`core/swap_maps.js`,
 * `core/pictures.js`), and onnxruntime-web's browser builds from the npm
 * package the server runs, so the page needs nothing from elsewhere. The
 * page and its files are public; the API calls it makes carry the key when
 * the server needs one.
 *
 * @module
 */

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";
import { HttpProblem } from "./problem.ts";
import type { AppEnv } from "./route.ts";

/** The page's own files, by URL path. */
const PAGE_FILES: Record<string, { url: URL; type: string }> = {
  "/": { url: new URL("../studio/index.html", import.meta.url), type: "text/html; charset=utf-8" },
  "/studio/studio.js": {
    url: new URL("../studio/studio.js", import.meta.url),
    type: "text/javascript; charset=utf-8",
  },
  // At the same relative path as in the repository, so the page's import works from both.
  "/core/swap_maps.js": {
    url: new URL("../core/swap_maps.js", import.meta.url),
    type: "text/javascript; charset=utf-8",
  },
  "/core/pictures.js": {
    url: new URL("../core/pictures.js", import.meta.url),
    type: "text/javascript; charset=utf-8",
  },
};

/**
 * onnxruntime-web's browser builds the page loads: the wasm-only and the
 * WebGPU bundles, and the wasm binaries and their loaders each needs.
 */
export const RUNTIME_FILES = [
  "ort.wasm.bundle.min.mjs",
  "ort-wasm-simd-threaded.mjs",
  "ort-wasm-simd-threaded.wasm",
  "ort.webgpu.bundle.min.mjs",
  "ort-wasm-simd-threaded.asyncify.mjs",
  "ort-wasm-simd-threaded.asyncify.wasm",
] as const;

/** The folder of onnxruntime-web's builds in the npm package (the server's sessions read it too). */
export function runtimeFolder(): string {
  return dirname(fileURLToPath(import.meta.resolve("onnxruntime-web")));
}

/** The URL paths the studio serves (GET), in the route specs' path syntax. */
export const STUDIO_PATHS: readonly string[] = [...Object.keys(PAGE_FILES), "/studio/ort/{file}"];

const typeOf = (name: string) => name.endsWith(".wasm") ? "application/wasm" : "text/javascript";

/** Registers the studio's routes on `app`. */
export function registerStudio(app: Hono<AppEnv>): void {
  for (const [path, file] of Object.entries(PAGE_FILES)) {
    app.get(path, async () =>
      new Response(await Deno.readFile(file.url), {
        headers: { "content-type": file.type, "cache-control": "no-cache" },
      }));
  }
  app.get("/studio/ort/:file", async (c) => {
    const name = c.req.param("file");
    if (!(RUNTIME_FILES as readonly string[]).includes(name)) {
      throw new HttpProblem(
        "not-found",
        `there is no /studio/ort/${name}; the runtime files are ${RUNTIME_FILES.join(", ")}.`,
      );
    }
    const file = await Deno.open(`${runtimeFolder()}/${name}`);
    return new Response(file.readable, {
      headers: { "content-type": typeOf(name), "cache-control": "public, max-age=86400" },
    });
  });
}
