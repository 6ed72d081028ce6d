import { deepEqual, equal, throws } from "node:assert/strict";
import { encode as encodePngFile } from "fast-png";
import {
  inflatedSize,
  pixelChunksOnly,
  PngChunkError,
  pngChunks,
  readPngHeader,
} from "./png_chunks.ts";

const file = encodePngFile({
  width: 3,
  height: 2,
  channels: 3,
  depth: 8,
  data: new Uint8Array(18).fill(7),
});

Deno.test("inflatedSize: each row's filter byte and samples, by Adam7 pass when interlaced", () => {
  equal(inflatedSize(8, 8, 24, false), 8 * (1 + 24));
  // Passes of 8 x 8: 1x1, 1x1, 2x1, 2x2, 4x2, 4x4, 8x4 pixels, each row with its filter byte.
  equal(inflatedSize(8, 8, 24, true), 4 + 4 + 7 + 14 + 26 + 52 + 100);
  equal(inflatedSize(1, 1, 1, true), 2, "a 1 x 1 picture has the first pass alone");
  equal(inflatedSize(10, 1, 1, false), 1 + 2, "bits packed into bytes, each row whole");
});

Deno.test("readPngHeader: the IHDR's fields; a cut-off or missing header is an error", () => {
  deepEqual(readPngHeader(file), {
    width: 3,
    height: 2,
    depth: 8,
    colourType: 2,
    interlaced: false,
  });
  throws(() => readPngHeader(file.subarray(0, 28)), /cut off/);
  const renamed = Uint8Array.from(file);
  renamed.set(new TextEncoder().encode("IDAT"), 12);
  throws(() => readPngHeader(renamed), /does not start with its header/);
});

Deno.test("pngChunks: the chunks in order; a cut-off chunk is an error, a cut-off end CRC is not", () => {
  deepEqual([...pngChunks(file)].map((c) => c.type), ["IHDR", "IDAT", "IEND"]);
  throws(() => [...pngChunks(file.subarray(0, 45))], PngChunkError, "cut in its image data");
  deepEqual([...pngChunks(file.subarray(0, file.length - 4))].map((c) => c.type), [
    "IHDR",
    "IDAT",
    "IEND",
  ]);
});

Deno.test("pixelChunksOnly keeps what the pixels need, and takes a little more data than they need", () => {
  const palette = encodePngFile({
    width: 2,
    height: 1,
    channels: 1,
    depth: 8,
    data: new Uint8Array([0, 1]),
    palette: [[255, 0, 0, 128], [0, 0, 255, 255]],
  });
  const types = [...pngChunks(palette)].map((c) => c.type);
  deepEqual(
    [...pngChunks(pixelChunksOnly(palette))].map((c) => c.type),
    types.filter((t) => ["IHDR", "PLTE", "tRNS", "IDAT", "IEND"].includes(t)),
  );
  equal(pixelChunksOnly(file).length, file.length, "nothing to leave out");
});
