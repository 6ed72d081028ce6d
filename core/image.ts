/**
 * 8-bit RGB images on the host: decoding JPEG and PNG files, centre-cropping
 * and resizing them, tiling a batch into a grid, and encoding PNG.
 *
 * @module
 */

import { decode as decodePngFile } from "fast-png";
import { zlibSync } from "fflate";
import jpeg from "jpeg-js";
import { concatArrays } from "./concat.ts";
import { crc32 } from "./crc32.ts";
import { JpegSegmentError, jpegSegments, jpegStoresRgb } from "./jpeg_segments.ts";
import { jpegOrientation, orient } from "./orientation.ts";
import { pixelChunksOnly, PngChunkError, readPngHeader } from "./png_chunks.ts";
import { planarPicture } from "./pictures.js";

/** Interleaved 8-bit RGB pixels, row by row. */
export interface RgbImage {
  width: number;
  height: number;
  /** `width * height * 3` bytes. */
  data: Uint8Array;
}

/**
 * A file that is not a JPEG or PNG image, or one that fails to decode;
 * `field` names the request field it came in, where one is known.
 */
export class ImageDecodeError extends Error {
  override name = "ImageDecodeError";
  readonly field?: string;

  constructor(message: string, field?: string) {
    super(message);
    this.field = field;
  }
}

const NO_PIXELS = "the PNG has no pixels: its width or height is 0";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

function startsWith(bytes: Uint8Array, signature: number[]): boolean {
  return signature.every((b, k) => bytes[k] === b);
}

/** A JPEG or PNG file's size, read from its header. */
export interface ImageHeader {
  format: "png" | "jpeg";
  width: number;
  height: number;
}

/** JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic), which give the size. */
const JPEG_FRAME_MARKERS = new Set([
  0xc0,
  0xc1,
  0xc2,
  0xc3,
  0xc5,
  0xc6,
  0xc7,
  0xc9,
  0xca,
  0xcb,
  0xcd,
  0xce,
  0xcf,
]);

/**
 * The format and size of a JPEG or PNG file from its header alone, without
 * decoding it: what a server checks before it spends memory on the pixels.
 * Throws {@link ImageDecodeError} for other files and cut-off headers.
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (startsWith(bytes, PNG_SIGNATURE)) {
    let header;
    try {
      header = readPngHeader(bytes);
    } catch (error) {
      if (error instanceof PngChunkError) throw new ImageDecodeError(error.message);
      throw error;
    }
    const { width, height } = header;
    if (width === 0 || height === 0) throw new ImageDecodeError(NO_PIXELS);
    return { format: "png", width, height };
  }
  if (startsWith(bytes, JPEG_SIGNATURE)) {
    try {
      for (const { marker, at } of jpegSegments(bytes)) {
        if (!JPEG_FRAME_MARKERS.has(marker)) continue;
        if (at + 9 > bytes.length) break;
        const height = view.getUint16(at + 5), width = view.getUint16(at + 7);
        if (width === 0 || height === 0) {
          throw new ImageDecodeError("unsupported JPEG: its frame header gives no size");
        }
        return { format: "jpeg", width, height };
      }
    } catch (error) {
      if (error instanceof JpegSegmentError) throw new ImageDecodeError(error.message);
      throw error;
    }
    throw new ImageDecodeError("truncated JPEG: no frame header before the data");
  }
  throw new ImageDecodeError(notJpegOrPng(bytes));
}

/**
 * Most scans of a JPEG that is decoded: a progressive file has about ten;
 * each scan costs a pass over the picture, so thousands of them in a small
 * file would hold a decoder for seconds.
 */
export const MAX_JPEG_SCANS = 64;

/**
 * Checks, before a JPEG is decoded, what its first frame header does not
 * say: that it has no second frame (whose size the decoder would allocate
 * before refusing it) and at most {@link MAX_JPEG_SCANS} scans.
 */
function checkJpegStructure(bytes: Uint8Array): void {
  let frames = 0, scans = 0;
  for (const { marker } of jpegSegments(bytes, { throughScans: true })) {
    if (JPEG_FRAME_MARKERS.has(marker)) frames++;
    if (marker === 0xda) scans++;
  }
  if (frames > 1) {
    throw new ImageDecodeError(`unsupported JPEG: it has ${frames} frames; one is read here`);
  }
  if (scans > MAX_JPEG_SCANS) {
    throw new ImageDecodeError(
      `unsupported JPEG: it has ${scans} scans, over the ${MAX_JPEG_SCANS} read here; save it ` +
        "again (as a baseline JPEG, or a PNG)",
    );
  }
}

/**
 * Decodes a JPEG or PNG file (recognised by its signature, not its name) to
 * RGB: a JPEG turned upright as its EXIF orientation says, a PNG's
 * transparent pixels over white. A decoder's memory and time are bounded by
 * the header's size: a JPEG of several frames or very many scans, or a PNG
 * whose image data inflates past its size, is refused before it is decoded,
 * and a PNG's colour profiles and texts are not inflated at all.
 */
export function decodeImage(bytes: Uint8Array): RgbImage {
  const kind = startsWith(bytes, JPEG_SIGNATURE) ? "JPEG" : "PNG";
  try {
    if (kind === "JPEG") {
      checkJpegStructure(bytes);
      const { width, height, data } = decodeJpeg(bytes);
      const stored = {
        width,
        height,
        data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      };
      return orient(stored, jpegOrientation(bytes));
    }
    if (startsWith(bytes, PNG_SIGNATURE)) {
      readImageHeader(bytes); // a size of 0 is said as such, before the data is looked at
      return pngToRgb(decodePngFile(pixelChunksOnly(bytes)));
    }
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    if (error instanceof PngChunkError || error instanceof JpegSegmentError) {
      throw new ImageDecodeError(error.message);
    }
    // fast-png fails on interlaced files of 1, 2 or 4 bits a sample.
    const { depth, interlaced } = kind === "PNG" ? readPngHeader(bytes) : { depth: 8 };
    if (interlaced && depth < 8) {
      throw new ImageDecodeError(
        `this PNG is interlaced at ${depth} bit${depth === 1 ? "" : "s"} a sample, which ` +
          "is not read here; save it without interlacing, or as a JPEG",
      );
    }
    // The decoders' messages can end in an empty cause ("... the data:").
    const why = (error as Error).message.replace(/[:\s]+$/, "");
    throw new ImageDecodeError(
      `the ${kind} file is truncated, corrupt or of a kind not read here (the decoder: ${why})`,
    );
  }
  throw new ImageDecodeError(notJpegOrPng(bytes));
}

/** Decodes a JPEG with jpeg-js, in R, G and B where it stores them so. */
function decodeJpeg(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } {
  const options = {
    useTArray: true,
    formatAsRGBA: false,
    // Bounds a hostile header's allocation (CelebA needs < 1 MB).
    maxMemoryUsageInMB: 512,
    ...(jpegStoresRgb(bytes) ? { colorTransform: false } : {}),
  } as const;
  try {
    return jpeg.decode(bytes, options);
  } catch (error) {
    // Uploads and some encoders lose the end marker, which libjpeg and browsers do without.
    if (!/marker was not found/.test((error as Error).message)) throw error;
    return jpeg.decode(concatArrays(Uint8Array, [bytes, Uint8Array.of(0xff, 0xd9)]), options);
  }
}

/** Other formats photos come in, by their first bytes, to name in a refusal. */
const OTHER_FORMATS: [string, (b: Uint8Array) => boolean][] = [
  [
    "HEIC/HEIF",
    (b) => latin1(b, 4, 8) === "ftyp" && /^(hei|hev|mif|msf|avi)/.test(latin1(b, 8, 11)),
  ],
  ["WebP", (b) => latin1(b, 0, 4) === "RIFF" && latin1(b, 8, 12) === "WEBP"],
  ["GIF", (b) => latin1(b, 0, 4) === "GIF8"],
  ["BMP", (b) => latin1(b, 0, 2) === "BM"],
  ["TIFF", (b) => latin1(b, 0, 4) === "II*\0" || latin1(b, 0, 4) === "MM\0*"],
];

function latin1(bytes: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...bytes.subarray(from, to));
}

/** The refusal of a file that is neither JPEG nor PNG, naming its format when known. */
function notJpegOrPng(bytes: Uint8Array): string {
  const format = OTHER_FORMATS.find(([, test]) => test(bytes))?.[0];
  return format
    ? `not a JPEG or PNG file: it is a ${format} image; save or export it as JPEG or PNG`
    : "not a JPEG or PNG file";
}

function pngToRgb(png: ReturnType<typeof decodePngFile>): RgbImage {
  const { width, height, channels, depth, palette } = png;
  if (width === 0 || height === 0) throw new ImageDecodeError(NO_PIXELS);
  const src = png.data;
  const rowSamples = width * channels;
  // Depths under 8 pack the samples of a row into bytes, each row starting on a byte.
  const rowBytes = Math.ceil((rowSamples * depth) / 8);
  const lowBits = (1 << depth) - 1;
  const sample = (y: number, i: number) => {
    if (depth >= 8) return src[y * rowSamples + i];
    const bit = i * depth;
    return (src[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & lowBits;
  };
  const max = depth === 16 ? 65535 : 2 ** depth - 1;
  const data = new Uint8Array(width * height * 3);
  const gray = channels <= 2;
  // Grey with alpha, or RGBA: the last channel is the alpha.
  const alphaChannel = channels === 2 || channels === 4 ? channels - 1 : -1;
  // Transparent pixels are drawn over white, as a page shows a cut-out photo.
  const overWhite = (value: number, alpha: number) => value * alpha + 255 * (1 - alpha);
  // Grey or RGB without alpha may name one colour transparent (its tRNS chunk).
  const key = !palette && alphaChannel < 0 ? png.transparency : undefined;
  const keyed = (y: number, x: number) =>
    key !== undefined && key.length === channels &&
    key.every((v, c) => sample(y, x * channels + c) === v);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      if (palette) {
        const colour = palette[sample(y, x)];
        if (!colour) throw new ImageDecodeError("corrupt PNG: a pixel's palette index is unused");
        const alpha = (colour[3] ?? 255) / 255;
        for (let c = 0; c < 3; c++) data[p * 3 + c] = Math.round(overWhite(colour[c], alpha));
        continue;
      }
      const alpha = alphaChannel >= 0
        ? sample(y, x * channels + alphaChannel) / max
        : keyed(y, x)
        ? 0
        : 1;
      for (let c = 0; c < 3; c++) {
        const value = (sample(y, x * channels + (gray ? 0 : c)) * 255) / max;
        data[p * 3 + c] = Math.round(overWhite(value, alpha));
      }
    }
  }
  return { width, height, data };
}

/**
 * The largest centred square of `image`, resized to `size` x `size` by area
 * averaging (each output pixel is the mean of the source area it covers), so
 * downscaling does not alias.
 */
export function centerCropResize(image: RgbImage, size: number): RgbImage {
  const side = Math.min(image.width, image.height);
  const x0 = (image.width - side) / 2, y0 = (image.height - side) / 2;
  const scale = side / size;
  const out = new Uint8Array(size * size * 3);
  for (let oy = 0; oy < size; oy++) {
    const [ya, yb] = [y0 + oy * scale, y0 + (oy + 1) * scale];
    for (let ox = 0; ox < size; ox++) {
      const [xa, xb] = [x0 + ox * scale, x0 + (ox + 1) * scale];
      const sum = [0, 0, 0];
      let area = 0;
      for (let y = Math.floor(ya); y < Math.ceil(yb); y++) {
        const wy = Math.min(y + 1, yb) - Math.max(y, ya);
        for (let x = Math.floor(xa); x < Math.ceil(xb); x++) {
          const w = wy * (Math.min(x + 1, xb) - Math.max(x, xa));
          const at = (y * image.width + x) * 3;
          for (let c = 0; c < 3; c++) sum[c] += w * image.data[at + c];
          area += w;
        }
      }
      for (let c = 0; c < 3; c++) out[(oy * size + ox) * 3 + c] = Math.round(sum[c] / area);
    }
  }
  return { width: size, height: size, data: out };
}

/**
 * RGB images from a batch of planar floats `[N, 3, S, S]` in [-1, 1] (values
 * outside are clipped).
 */
export function imagesFromPlanar(values: Float32Array, count: number, size: number): RgbImage[] {
  return Array.from({ length: count }, (_, n) => planarPicture(values, n, size));
}

/** Tiles same-sized images into rows of `columns`, separated by `gap` black pixels. */
export function imageGrid(images: readonly RgbImage[], columns: number, gap = 2): RgbImage {
  if (images.length === 0) throw new RangeError("imageGrid needs at least one image");
  const { width: w, height: h } = images[0];
  const rows = Math.ceil(images.length / columns);
  const width = columns * w + (columns - 1) * gap;
  const height = rows * h + (rows - 1) * gap;
  const data = new Uint8Array(width * height * 3);
  images.forEach((image, k) => {
    const [x0, y0] = [(k % columns) * (w + gap), Math.floor(k / columns) * (h + gap)];
    for (let y = 0; y < h; y++) {
      data.set(image.data.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * width + x0) * 3);
    }
  });
  return { width, height, data };
}

/** A PNG chunk: length, type, data, CRC of type and data. */
function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + data.length);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, data.length);
  for (let k = 0; k < 4; k++) chunk[4 + k] = type.charCodeAt(k);
  chunk.set(data, 8);
  view.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)));
  return chunk;
}

/** Pictures of at most this many pixels are stored in PNGs without compression (see {@link encodePng}). */
const STORED_PNG_PIXELS = 96 * 96;

/**
 * Encodes an RGB image as an 8-bit RGB PNG file, each row filtered by "Up"
 * (the difference from the row above, which halves upscaled images). Written
 * here rather than with fast-png's encoder because the server encodes a PNG
 * per request (0.09 ms against fast-png's 0.21 ms at 64x64). Pictures of up
 * to 96x96 pixels are stored uncompressed: on generated faces deflate saved
 * under a fifth of their bytes and took 0.2-0.4 ms; larger ones use level 1.
 */
export function encodePng(image: RgbImage): Uint8Array {
  const { width, height, data } = image;
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 2, 0, 0, 0], 8); // depth 8, colour type RGB, deflate, adaptive filters, no interlace
  const row = width * 3;
  const scanlines = new Uint8Array(height * (row + 1));
  for (let y = 0; y < height; y++) {
    const out = y * (row + 1), here = y * row, above = here - row;
    scanlines[out] = 2; // filter type Up
    if (y === 0) scanlines.set(data.subarray(0, row), 1);
    else for (let x = 0; x < row; x++) scanlines[out + 1 + x] = data[here + x] - data[above + x];
  }
  const level = width * height <= STORED_PNG_PIXELS ? 0 : 1;
  const chunks = [
    Uint8Array.from(PNG_SIGNATURE),
    pngChunk("IHDR", header),
    pngChunk("IDAT", zlibSync(scanlines, { level })),
    pngChunk("IEND", new Uint8Array(0)),
  ];
  return concatArrays(Uint8Array, chunks);
}

/**
 * A photo as the networks see images: decoded, its centre square resized to the
 * model's resolution (as the training data were), planar [3, S, S] in [-1, 1].
 * Throws {@link ImageDecodeError} for a corrupt file.
 */
export function photoPixels(bytes: Uint8Array, resolution: number): Float32Array {
  const { data } = centerCropResize(decodeImage(bytes), resolution);
  const plane = resolution * resolution;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = data[p * 3 + c] / 127.5 - 1;
  }
  return out;
}
