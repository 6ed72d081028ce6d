/**
 * The marker segments of a JPEG file, up to its image data or through it:
 * what reading its size (the frame header) and its EXIF orientation (an APP1
 * segment) walk, and checking its frames and scans before decoding.
 *
 * @module
 */

/** A marker and its segment: `length` bytes (its own two included) from `at + 2`. */
export interface JpegSegment {
  marker: number;
  at: number;
  length: number;
}

/** A JPEG whose segments cannot be walked: a marker is missing where one belongs. */
export class JpegSegmentError extends Error {
  override name = "JpegSegmentError";
}

/** Start of scan: its header is followed by entropy-coded data. */
const SOS = 0xda;

/**
 * The segments of a JPEG file from after its start marker, each yielded once
 * it is seen; the walk ends after the first start of scan (SOS), or with
 * `throughScans` goes on past each scan's data to the segments after it (a
 * progressive file's further scans and tables); and at the end marker, a
 * segment too short to hold its length, or the end of the bytes. Throws
 * {@link JpegSegmentError} where a marker is missing.
 */
export function* jpegSegments(
  bytes: Uint8Array,
  { throughScans = false } = {},
): Generator<JpegSegment> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw new JpegSegmentError("corrupt JPEG: a marker is missing");
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a length
      continue;
    }
    const length = view.getUint16(at + 2);
    yield { marker, at, length };
    if (marker === 0xd9 || length < 2 || (marker === SOS && !throughScans)) return;
    at += 2 + length;
    if (marker === SOS) at = afterScanData(bytes, at);
  }
}

/**
 * Where the entropy-coded data that starts at `at` ends: at the next marker,
 * a 0xFF byte followed by neither a stuffed 0 nor a restart marker (or the
 * end of the bytes).
 */
function afterScanData(bytes: Uint8Array, at: number): number {
  for (let i = at; i + 1 < bytes.length; i++) {
    if (bytes[i] !== 0xff) continue;
    const next = bytes[i + 1];
    if (next !== 0 && next !== 0xff && (next < 0xd0 || next > 0xd7)) return i;
  }
  return bytes.length;
}

/**
 * Whether a three-component JPEG stores R, G and B rather than YCbCr, as
 * libjpeg decides: by an Adobe segment's transform (0: none), else, in a file
 * without JFIF's segment, by components named R, G and B. (jpeg-js alone took
 * every such file for YCbCr, and drew `cjpeg -rgb` files green and magenta.)
 */
export function jpegStoresRgb(bytes: Uint8Array): boolean {
  let jfif = false, adobeTransform: number | null = null;
  const text = (at: number, n: number) => String.fromCharCode(...bytes.subarray(at, at + n));
  try {
    for (const { marker, at, length } of jpegSegments(bytes)) {
      const data = at + 4;
      if (data + length - 2 > bytes.length) break;
      if (marker === 0xe0 && text(data, 5) === "JFIF\0") jfif = true;
      if (marker === 0xee && length >= 14 && text(data, 5) === "Adobe") {
        adobeTransform = bytes[data + 11];
      }
      // A frame header: precision, height, width, then the components (id, sampling, table).
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        if (bytes[data + 5] !== 3) return false;
        if (adobeTransform !== null) return adobeTransform === 0;
        const ids = [0, 1, 2].map((k) => bytes[data + 6 + 3 * k]);
        return !jfif && String.fromCharCode(...ids) === "RGB";
      }
    }
  } catch (error) {
    if (!(error instanceof JpegSegmentError)) throw error;
  }
  return false;
}
