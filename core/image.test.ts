import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { encode as encodePngFile } from "fast-png";
import jpeg from "jpeg-js";
import {
  centerCropResize,
  decodeImage,
  encodePng,
  ImageDecodeError,
  imageGrid,
  imagesFromPlanar,
  MAX_JPEG_SCANS,
  readImageHeader,
  type RgbImage,
} from "./image.ts";
import { concatArrays } from "./concat.ts";
import { crc32 } from "./crc32.ts";
import { pixelChunksOnly, pngChunks } from "./png_chunks.ts";
import { jpegStoresRgb } from "./jpeg_segments.ts";
import { zlibSync } from "fflate";

/** A w x h image whose pixel (x, y) is (x * 10, y * 10, 100). */
function ramp(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) data.set([x * 10, y * 10, 100], (y * w + x) * 3);
  }
  return { width: w, height: h, data };
}

Deno.test("PNG: encode then decode gives the same pixels", () => {
  const image = ramp(5, 3);
  deepEqual(decodeImage(encodePng(image)), image);
});

Deno.test("PNG: grey, grey+alpha, RGBA and 16-bit files decode to RGB, transparent pixels over white", async (t) => {
  const cases = [
    { channels: 1, depth: 8, data: new Uint8Array([0, 128, 255, 7]), rgb: [0, 128, 255, 7] },
    {
      channels: 2,
      depth: 8,
      data: new Uint8Array([9, 255, 200, 0, 1, 1, 2, 2]),
      // Opaque, transparent, then nearly transparent: white shows through.
      rgb: [9, 255, 254, 253],
    },
    {
      channels: 4,
      depth: 8,
      data: new Uint8Array([1, 2, 3, 255, 4, 5, 6, 0, 7, 8, 9, 9, 10, 11, 12, 1]),
      rgb: null,
    },
    {
      channels: 1,
      depth: 16,
      data: new Uint16Array([0, 65535, 257, 32896]),
      rgb: [0, 255, 1, 128],
    },
  ] as const;
  for (const c of cases) {
    await t.step(`${c.channels} channel(s), ${c.depth}-bit`, () => {
      const file = encodePngFile({
        width: 2,
        height: 2,
        channels: c.channels,
        depth: c.depth,
        data: c.data,
      });
      const { width, height, data } = decodeImage(file);
      equal(width, 2);
      equal(height, 2);
      const expected = c.rgb
        ? c.rgb.flatMap((v) => [v, v, v])
        : [1, 2, 3, 255, 255, 255, 246, 246, 246, 254, 254, 254];
      deepEqual([...data], expected);
    });
  }
});

Deno.test("JPEG: decodes to RGB close to the encoded colours", () => {
  const rgba = new Uint8Array(16 * 16 * 4);
  for (let p = 0; p < 256; p++) rgba.set([200, 40, 90, 255], p * 4);
  const file = jpeg.encode({ width: 16, height: 16, data: rgba }, 95).data;
  const image = decodeImage(new Uint8Array(file));
  equal(image.width, 16);
  equal(image.data.length, 16 * 16 * 3);
  for (const [k, v] of [200, 40, 90].entries()) {
    ok(Math.abs(image.data[k] - v) <= 4, `channel ${k}`);
  }
});

Deno.test("decodeImage rejects text and corrupt files with ImageDecodeError", () => {
  throws(() => decodeImage(new TextEncoder().encode("hello")), ImageDecodeError);
  const rgba = new Uint8Array(8 * 8 * 4).fill(120);
  const good = new Uint8Array(jpeg.encode({ width: 8, height: 8, data: rgba }, 90).data);
  throws(() => decodeImage(good.subarray(0, 20)), ImageDecodeError);
  const png = encodePng(ramp(4, 4));
  throws(() => decodeImage(png.subarray(0, 30)), ImageDecodeError);
});

Deno.test("centerCropResize keeps the central square and averages areas", () => {
  // 6x4: the central square is columns 1..4; 2x downscaling averages 2x2 blocks.
  const out = centerCropResize(ramp(6, 4), 2);
  equal(out.width, 2);
  deepEqual([...out.data], [15, 5, 100, 35, 5, 100, 15, 25, 100, 35, 25, 100]);
  // Upscaling a constant image keeps it constant; a non-integer ratio still averages.
  const flat = { width: 3, height: 3, data: new Uint8Array(27).fill(77) };
  ok(centerCropResize(flat, 7).data.every((v) => v === 77));
  ok(centerCropResize(ramp(89, 109), 64).data.length === 64 * 64 * 3);
});

Deno.test("imagesFromPlanar maps [-1, 1] to bytes and clips", () => {
  // One 1x1 image: R = -1, G = 0, B = 3 (clipped).
  const [image] = imagesFromPlanar(new Float32Array([-1, 0, 3]), 1, 1);
  deepEqual([...image.data], [0, 128, 255]);
});

Deno.test("imageGrid tiles images with black gaps", () => {
  const a = { width: 1, height: 1, data: new Uint8Array([1, 1, 1]) };
  const b = { width: 1, height: 1, data: new Uint8Array([2, 2, 2]) };
  const grid = imageGrid([a, b, a], 2, 1);
  equal(grid.width, 3);
  equal(grid.height, 3);
  deepEqual([...grid.data.subarray(0, 9)], [1, 1, 1, 0, 0, 0, 2, 2, 2]);
  deepEqual([...grid.data.subarray(18, 21)], [1, 1, 1]);
});

Deno.test("encodePng round-trips small (stored) and large (deflated) pictures exactly", () => {
  for (const [width, height] of [[5, 3], [200, 150]]) {
    const data = Uint8Array.from(
      { length: width * height * 3 },
      (_, i) => (i * 5 + (i >> 7)) & 255,
    );
    const file = encodePng({ width, height, data });
    deepEqual(decodeImage(file), { width, height, data });
    if (width * height > 96 * 96) {
      ok(file.length < data.length / 2, `deflated: ${file.length} bytes`);
    }
  }
});

Deno.test("PNG: 1-, 2- and 4-bit grey and palette files decode to RGB", async (t) => {
  // Three pixels a row and two rows: each row's packed samples start on a byte.
  const levels = { 1: [1, 0, 1, 0, 1, 1], 2: [3, 0, 2, 1, 3, 0], 4: [15, 0, 8, 5, 10, 1] } as const;
  const pack = (depth: 1 | 2 | 4, samples: readonly number[]) => {
    const rowBytes = Math.ceil((3 * depth) / 8);
    const bytes = new Uint8Array(2 * rowBytes);
    samples.forEach((v, k) => {
      const [y, x] = [Math.floor(k / 3), k % 3];
      bytes[y * rowBytes + ((x * depth) >> 3)] |= v << (8 - depth - ((x * depth) & 7));
    });
    return bytes;
  };
  /** A 3 x 2 one-channel file of `samples` at `depth`, indexing `palette` if given. */
  const file = (depth: 1 | 2 | 4, samples: readonly number[], palette?: number[][]) =>
    encodePngFile({
      width: 3,
      height: 2,
      channels: 1,
      depth,
      data: pack(depth, samples),
      ...(palette ? { palette: palette as [number, number, number][] } : {}),
    });
  for (const depth of [1, 2, 4] as const) {
    const samples = levels[depth];
    await t.step(`${depth}-bit grey`, () => {
      const grey = samples.map((v) => Math.round((v * 255) / (2 ** depth - 1)));
      deepEqual([...decodeImage(file(depth, samples)).data], grey.flatMap((v) => [v, v, v]));
    });
    await t.step(`${depth}-bit palette`, () => {
      const palette = Array.from({ length: 2 ** depth }, (_, i) => [i, 100 + i, 200 - i]);
      const decoded = decodeImage(file(depth, samples, palette));
      deepEqual([...decoded.data], samples.flatMap((i) => palette[i]));
    });
  }
});

Deno.test("PNG: a file without pixels is refused, by its header and by decoding", () => {
  const empty = encodePngFile({
    width: 4,
    height: 1,
    channels: 3,
    depth: 8,
    data: new Uint8Array(12),
  });
  // The same file with its height (IHDR bytes 20..23) set to 0; CRCs are not checked.
  const zero = empty.slice();
  new DataView(zero.buffer).setUint32(20, 0);
  throws(() => readImageHeader(zero), /no pixels/);
  throws(() => decodeImage(zero), /no pixels/);
});

Deno.test("readImageHeader reads a PNG's and a JPEG's size without decoding, and refuses others", () => {
  const jpegBytes = jpeg.encode(
    { width: 5, height: 3, data: new Uint8Array(5 * 3 * 4) },
    90,
  ).data;
  const pngBytes = encodePng({ width: 7, height: 2, data: new Uint8Array(7 * 2 * 3) });
  deepEqual(readImageHeader(pngBytes), { format: "png", width: 7, height: 2 });
  deepEqual(readImageHeader(jpegBytes), { format: "jpeg", width: 5, height: 3 });
  for (
    const bad of [
      new TextEncoder().encode("GIF89a..."),
      pngBytes.subarray(0, 20),
      jpegBytes.subarray(0, 30),
      new Uint8Array(0),
    ]
  ) {
    throws(() => readImageHeader(bad), ImageDecodeError);
  }
});

/** A PNG chunk: length, type, data and CRC. */
function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const body = new Uint8Array(4 + data.length);
  body.set([...type].map((c) => c.charCodeAt(0)));
  body.set(data, 4);
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(body, 4);
  view.setUint32(8 + data.length, crc32(body));
  return out;
}

/** A 1 x 1 RGB PNG with `extra` chunks after its header and `pixels` as its inflated data. */
function onePixelPng(pixels: Uint8Array, extra: Uint8Array[] = []): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, 1);
  new DataView(ihdr.buffer).setUint32(4, 1);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return concatArrays(Uint8Array, [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    ...extra,
    pngChunk("IDAT", zlibSync(pixels)),
    pngChunk("IEND", new Uint8Array(0)),
  ]);
}

Deno.test("a PNG's image data or colour profile that inflates past its size is never inflated whole", () => {
  // 1 x 1 RGB: a filter byte and 3 samples. 64 MB of zeros deflate to about 64 KB.
  const bomb = onePixelPng(new Uint8Array(64 * 2 ** 20));
  ok(bomb.length < 100_000, `${bomb.length} bytes`);
  throws(() => decodeImage(bomb), (e) =>
    e instanceof ImageDecodeError &&
    /image data inflates far past the 4 bytes that 1 x 1 pixels need/.test(e.message));
  // A colour profile (iCCP: a name, 0, the method, then zlib data) is left out, not inflated.
  const profile = concatArrays(Uint8Array, [
    new TextEncoder().encode("icc\0\0"),
    zlibSync(new Uint8Array(64 * 2 ** 20)),
  ]);
  const withProfile = onePixelPng(new Uint8Array([0, 10, 20, 30]), [pngChunk("iCCP", profile)]);
  deepEqual(decodeImage(withProfile), { width: 1, height: 1, data: new Uint8Array([10, 20, 30]) });
  deepEqual([...pngChunks(pixelChunksOnly(withProfile))].map((c) => c.type), [
    "IHDR",
    "IDAT",
    "IEND",
  ]);
});

Deno.test("a JPEG of a second frame or very many scans is refused before it is decoded", () => {
  const rgba = new Uint8Array(8 * 8 * 4).fill(128);
  const good = new Uint8Array(jpeg.encode({ width: 8, height: 8, data: rgba }, 90).data);
  deepEqual(decodeImage(good).width, 8);
  // A second frame header of 65535 x 1500 after the first: its size the decoder would allocate.
  const sof = good.findIndex((b, k) => b === 0xff && good[k + 1] === 0xc0);
  const length = (good[sof + 2] << 8) | good[sof + 3];
  const second = good.slice(sof, sof + 2 + length);
  new DataView(second.buffer).setUint16(5, 1500);
  new DataView(second.buffer).setUint16(7, 65535);
  const twoFrames = concatArrays(Uint8Array, [
    good.subarray(0, sof + 2 + length),
    second,
    good.subarray(sof + 2 + length),
  ]);
  throws(() => decodeImage(twoFrames), /it has 2 frames; one is read here/);
  // Scans after the image data: each a start-of-scan header and a byte of data.
  const scan = new Uint8Array([0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x00]);
  const end = good.length - 2; // before the end marker
  const manyScans = concatArrays(Uint8Array, [
    good.subarray(0, end),
    ...Array.from({ length: MAX_JPEG_SCANS }, () => scan),
    good.subarray(end),
  ]);
  throws(() => decodeImage(manyScans), new RegExp(`it has ${MAX_JPEG_SCANS + 1} scans, over`));
});

/** 16 x 16, red left half and blue right half, stored as RGB (libjpeg's `cjpeg -rgb`). */
const RGB_JPEG = Uint8Array.from(
  atob(
    "/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwACAQEBAQECAQEBAgICAgIEAwICAgIFBAQDBAYFBgYGBQYGBgcJCAYHCQcGBggLCAkKCgoKCgYICwwLCgwJCgoK/8AAEQgAEAAQA1IRAEcRAEIRAP/EAB8AAAEFAQEBAQEBAAAAAAAAAAABAgMEBQYHCAkKC//EALUQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/aAAwDUgBHAEIAAD8A/XCvx3r8d6/kHor+viv6+KK/kHr+Qeiv6+K//9k=",
  ),
  (c) => c.charCodeAt(0),
);

Deno.test("decodeImage: a JPEG that stores RGB keeps its colours; one without its end marker decodes", () => {
  ok(jpegStoresRgb(RGB_JPEG));
  const at = (
    image: RgbImage,
    x: number,
  ) => [...image.data.subarray((8 * 16 + x) * 3, (8 * 16 + x) * 3 + 3)];
  for (const bytes of [RGB_JPEG, RGB_JPEG.subarray(0, RGB_JPEG.length - 2)]) {
    const image = decodeImage(bytes);
    const [red, blue] = [at(image, 2), at(image, 13)];
    ok(red[0] > 180 && red[1] < 70 && red[2] < 70, `red: ${red}`);
    ok(blue[2] > 180 && blue[0] < 70 && blue[1] < 70, `blue: ${blue}`);
  }
  // A YCbCr JPEG (jpeg-js writes JFIF) is not taken for RGB.
  const rgba = new Uint8Array(16 * 16 * 4).fill(200);
  equal(
    jpegStoresRgb(new Uint8Array(jpeg.encode({ width: 16, height: 16, data: rgba }).data)),
    false,
  );
});

Deno.test("decodeImage names the formats photos come in that are not read here", () => {
  const webp = new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 ");
  throws(() => decodeImage(webp), /it is a WebP image; save or export it as JPEG or PNG/);
  const heic = new TextEncoder().encode("\0\0\0\x18ftypheic\0\0\0\0");
  throws(() => readImageHeader(heic), /it is a HEIC\/HEIF image/);
  throws(() => decodeImage(new TextEncoder().encode("hello")), /^.*not a JPEG or PNG file$/);
});

Deno.test("a PNG's transparent colour (its tRNS chunk, RGB without alpha) is drawn over white", () => {
  // 2 x 2 RGB (fast-png wants at least as many pixels as tRNS values), the top row keyed.
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, 2);
  new DataView(ihdr.buffer).setUint32(4, 2);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = new Uint8Array([0, 10, 200, 10, 10, 200, 10, 0, 10, 200, 11, 1, 2, 3]);
  const file = concatArrays(Uint8Array, [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("tRNS", new Uint8Array([0, 10, 0, 200, 0, 10])), // three 16-bit samples
    pngChunk("IDAT", zlibSync(rows)),
    pngChunk("IEND", new Uint8Array(0)),
  ]);
  deepEqual(
    [...decodeImage(file).data],
    [255, 255, 255, 255, 255, 255, 10, 200, 11, 1, 2, 3],
  );
});
