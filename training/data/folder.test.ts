import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { encodePng } from "../../core/image.ts";
import { loadImageFolder, skippedWarning } from "./folder.ts";
import { DataError } from "./image_set.ts";

function solidJpeg(w: number, h: number, rgb: number[]): Uint8Array {
  const rgba = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) rgba.set([...rgb, 255], p * 4);
  return new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, 95).data);
}

/** good.jpg, sub/good.png, corrupt.jpg, notes.txt. */
async function mixedFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "igan-folder-" });
  await Deno.mkdir(join(dir, "sub"));
  await Deno.writeFile(join(dir, "good.jpg"), solidJpeg(20, 30, [250, 10, 10]));
  const png = { width: 16, height: 16, data: new Uint8Array(16 * 16 * 3).fill(30) };
  await Deno.writeFile(join(dir, "sub", "good.png"), encodePng(png));
  await Deno.writeFile(join(dir, "corrupt.jpg"), solidJpeg(20, 20, [0, 0, 0]).subarray(0, 40));
  await Deno.writeTextFile(join(dir, "notes.txt"), "not an image");
  return dir;
}

Deno.test("loadImageFolder: good images load, corrupt and non-image files are skipped", async (t) => {
  const dir = await mixedFolder();
  const cacheDir = await Deno.makeTempDir({ prefix: "igan-cache-" });
  try {
    const first = await loadImageFolder(dir, { resolution: 32, cacheDir });
    await t.step("two images in path order, two files skipped with reasons", () => {
      equal(first.set.count, 2);
      equal(first.set.resolution, 32);
      equal(first.set.pixels.length, 2 * 32 * 32 * 3);
      equal(first.fromCache, false);
      // good.jpg sorts before sub/good.png: red first, then dark grey.
      ok(first.set.pixels[0] > 240 && first.set.pixels[1] < 20);
      equal(first.set.pixels[32 * 32 * 3], 30);
      deepEqual(first.skipped.map((s) => s.file).sort(), ["corrupt.jpg", "notes.txt"]);
      match(first.skipped.find((s) => s.file === "notes.txt")!.reason, /not a JPEG or PNG/);
      match(first.skipped.find((s) => s.file === "corrupt.jpg")!.reason, /corrupt/);
    });
    await t.step("one warning line names the count and examples", () => {
      const warning = skippedWarning(first.skipped, 4)!;
      match(warning, /^warning: skipped 2 of 4 files/);
      ok(!warning.includes("\n"));
      equal(skippedWarning([], 4), null);
    });
    await t.step("a second load reads the cache with identical pixels and warnings", async () => {
      const second = await loadImageFolder(dir, { resolution: 32, cacheDir });
      equal(second.fromCache, true);
      equal(second.cacheFile, first.cacheFile);
      deepEqual(second.set.pixels, first.set.pixels);
      deepEqual(second.skipped, first.skipped);
    });
    await t.step("another resolution or a changed file list misses the cache", async () => {
      const other = await loadImageFolder(dir, { resolution: 64, cacheDir });
      equal(other.fromCache, false);
      await Deno.writeFile(join(dir, "more.jpg"), solidJpeg(10, 10, [0, 200, 0]));
      const grown = await loadImageFolder(dir, { resolution: 32, cacheDir });
      equal(grown.fromCache, false);
      equal(grown.set.count, 3);
    });
    await t.step("a damaged cache file is rebuilt, not trusted", async () => {
      await Deno.writeFile(first.cacheFile!, new Uint8Array([1, 2, 3]));
      await Deno.remove(join(dir, "more.jpg"));
      const rebuilt = await loadImageFolder(dir, { resolution: 32, cacheDir });
      equal(rebuilt.fromCache, false);
      deepEqual(rebuilt.set.pixels, first.set.pixels);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("loadImageFolder: missing, empty, non-folder and image-less inputs are DataErrors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "igan-folder-" });
  try {
    await rejects(
      loadImageFolder(join(dir, "absent"), { resolution: 32, cacheDir: null }),
      (e) => e instanceof DataError && /does not exist/.test(e.message),
    );
    await rejects(
      loadImageFolder(dir, { resolution: 32, cacheDir: null }),
      (e) => e instanceof DataError && /holds no files/.test(e.message),
    );
    await Deno.writeTextFile(join(dir, "a.txt"), "text");
    await rejects(
      loadImageFolder(join(dir, "a.txt"), { resolution: 32, cacheDir: null }),
      (e) => e instanceof DataError && /is not a folder/.test(e.message),
    );
    await rejects(
      loadImageFolder(dir, { resolution: 32, cacheDir: null }),
      (e) => e instanceof DataError && /none of the 1 files/.test(e.message),
    );
    await rejects(
      loadImageFolder(dir, { resolution: 48, cacheDir: null }),
      (e) => e instanceof DataError && /resolution must be one of 32, 64/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
