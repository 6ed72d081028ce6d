/**
 * A PNG file's chunks, and the file cut down to what its pixels need: a
 * small file can hold image data or a colour profile that inflates to
 * hundreds of megabytes, which the decoder would inflate whole before
 * looking at the header's size.
 *
 * @module
 */

import { Unzlib } from "fflate";
import { concatArrays } from "./concat.ts";

/** A chunk: its type and its data, `length` bytes from `at + 8`. */
export interface PngChunk {
  type: string;
  at: number;
  length: number;
}

/** A PNG whose chunks are cut off, or whose image data is more than its size needs. */
export class PngChunkError extends Error {
  override name = "PngChunkError";
}

/** The chunks of a PNG file, after its 8-byte signature, up to IEND or the end of the bytes. */
export function* pngChunks(bytes: Uint8Array): Generator<PngChunk> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  while (at + 8 <= bytes.length) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    // The end chunk holds nothing: other decoders take a file whose last CRC is cut off.
    if (type === "IEND") return yield { type, at, length: 0 };
    if (at + 12 + length > bytes.length) {
      throw new PngChunkError(`truncated PNG: its ${type} chunk is cut off`);
    }
    yield { type, at, length };
    at += 12 + length;
  }
}

/** What a PNG's header chunk (IHDR) says. */
export interface PngHeader {
  width: number;
  height: number;
  /** Bits a sample. */
  depth: number;
  colourType: number;
  interlaced: boolean;
}

/**
 * The header of `bytes`, a PNG file: its IHDR chunk, which comes first;
 * throws {@link PngChunkError} when it is cut off or missing.
 */
export function readPngHeader(bytes: Uint8Array): PngHeader {
  // The signature (8 bytes), then the header's length (4), type (4) and 13 bytes of data.
  if (bytes.length < 29) throw new PngChunkError("truncated PNG: its header (IHDR) is cut off");
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== "IHDR") {
    throw new PngChunkError("corrupt PNG: it does not start with its header (IHDR)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    width: view.getUint32(16),
    height: view.getUint32(20),
    depth: bytes[24],
    colourType: bytes[25],
    interlaced: bytes[28] === 1,
  };
}

/** The chunks decoding needs; the others (colour profiles, text, times...) are left out. */
const PIXEL_CHUNKS = new Set(["IHDR", "PLTE", "tRNS", "IDAT", "IEND"]);

/** Samples per pixel of each PNG colour type. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Adam7's passes: first column and row, then column and row steps. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** The bytes the image data of a PNG of this header inflates to: each row's filter byte and samples. */
export function inflatedSize(
  width: number,
  height: number,
  bitsPerPixel: number,
  interlaced: boolean,
): number {
  const rows = (w: number, h: number) =>
    w > 0 && h > 0 ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0;
  if (!interlaced) return rows(width, height);
  return ADAM7.reduce(
    (sum, [x0, y0, dx, dy]) =>
      sum + rows(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy)),
    0,
  );
}

/** Compressed bytes inflated at a time: each push inflates to at most about a thousand times it. */
const INFLATE_STEP = 1024;

/**
 * Image data past what the rows need that is still taken: some encoders
 * write a little more, which decoders ignore (libpng warns "too much image
 * data").
 */
const INFLATE_SLACK = 64 * 1024;

/**
 * `bytes` (a PNG file) with only the chunks its pixels need, after checking
 * that its image data inflates to no more than its header's size needs;
 * throws {@link PngChunkError} otherwise. The check inflates step by step
 * and stops as soon as the output passes that size; the decoder then
 * inflates the data again (about twice the time of one decode, bounded by
 * the size the header gives).
 */
export function pixelChunksOnly(bytes: Uint8Array): Uint8Array {
  const { width, height, depth, colourType, interlaced } = readPngHeader(bytes);
  const chunks = [...pngChunks(bytes)];
  if (chunks[0].length < 13) throw new PngChunkError("corrupt PNG: its header (IHDR) is short");
  const channels = CHANNELS[colourType];
  if (channels === undefined) throw new PngChunkError(`corrupt PNG: colour type ${colourType}`);
  const most = inflatedSize(width, height, channels * depth, interlaced);
  let inflated = 0;
  const inflater = new Unzlib((chunk) => inflated += chunk.length);
  for (const chunk of chunks.filter((c) => c.type === "IDAT")) {
    for (let k = 0; k < chunk.length; k += INFLATE_STEP) {
      const start = chunk.at + 8 + k;
      inflater.push(
        bytes.subarray(start, Math.min(start + INFLATE_STEP, chunk.at + 8 + chunk.length)),
      );
      if (inflated > most + INFLATE_SLACK) {
        throw new PngChunkError(
          `corrupt PNG: its image data inflates far past the ${most} bytes that ${width} x ` +
            `${height} pixels need`,
        );
      }
    }
  }
  const kept = chunks.filter((c) => PIXEL_CHUNKS.has(c.type));
  return concatArrays(Uint8Array, [
    bytes.subarray(0, 8),
    ...kept.map((c) => bytes.subarray(c.at, c.at + 12 + c.length)),
  ]);
}
