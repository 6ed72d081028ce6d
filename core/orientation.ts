/**
 * EXIF orientation: phones store a photo as the sensor saw it and say in the
 * JPEG's EXIF block (tag 0x0112, values 1 to 8) how to turn it upright, as
 * every viewer and browser does before showing it.
 *
 * @module
 */

import type { RgbImage } from "./image.ts";
import { JpegSegmentError, jpegSegments } from "./jpeg_segments.ts";

/** The EXIF orientation tag. */
const ORIENTATION_TAG = 0x0112;

/**
 * The EXIF orientation of a JPEG file (1, upright, when it has none or its
 * EXIF block cannot be read: a damaged tag never fails a decode).
 */
export function jpegOrientation(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    for (const { marker, at, length } of jpegSegments(bytes)) {
      if (marker !== 0xe1 || at + 2 + length > bytes.length) continue;
      const orientation = exifOrientation(view, at + 4, length - 2);
      if (orientation !== null) return orientation;
    }
  } catch (error) {
    if (!(error instanceof JpegSegmentError)) throw error;
  }
  return 1;
}

/** The orientation in an APP1 segment's `length` bytes at `start`, or null when it holds none. */
function exifOrientation(view: DataView, start: number, length: number): number | null {
  // "Exif\0\0", then a TIFF header: byte order, 42, the first directory's offset.
  if (length < 14 || view.getUint32(start) !== 0x45786966 || view.getUint16(start + 4) !== 0) {
    return null;
  }
  const tiff = start + 6, end = start + length;
  const order = view.getUint16(tiff);
  if (order !== 0x4949 && order !== 0x4d4d) return null;
  const little = order === 0x4949;
  const directory = tiff + view.getUint32(tiff + 4, little);
  if (directory + 2 > end) return null;
  const entries = view.getUint16(directory, little);
  for (let k = 0; k < entries; k++) {
    const entry = directory + 2 + 12 * k;
    if (entry + 12 > end) return null;
    if (view.getUint16(entry, little) !== ORIENTATION_TAG) continue;
    const value = view.getUint16(entry + 8, little);
    return value >= 1 && value <= 8 ? value : null;
  }
  return null;
}

/** `image` turned upright as EXIF `orientation` says (1 returns it as it is). */
export function orient(image: RgbImage, orientation: number): RgbImage {
  if (orientation <= 1 || orientation > 8) return image;
  const { width: w, height: h, data } = image;
  const turned = orientation >= 5; // a quarter turn: the sides swap
  const width = turned ? h : w, height = turned ? w : h;
  // For each upright pixel (x, y), the stored pixel it shows.
  type Source = (x: number, y: number) => [number, number];
  const source = ([
    (x, y) => [x, y],
    (x, y) => [w - 1 - x, y], // 2: mirrored
    (x, y) => [w - 1 - x, h - 1 - y], // 3: half a turn
    (x, y) => [x, h - 1 - y], // 4: mirrored upside down
    (x, y) => [y, x], // 5: transposed
    (x, y) => [y, h - 1 - x], // 6: stored a quarter turn anticlockwise
    (x, y) => [w - 1 - y, h - 1 - x], // 7: transversed
    (x, y) => [w - 1 - y, x], // 8: stored a quarter turn clockwise
  ] as Source[])[orientation - 1];
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = source(x, y);
      out.set(data.subarray(3 * (sy * w + sx), 3 * (sy * w + sx) + 3), 3 * (y * width + x));
    }
  }
  return { width, height, data: out };
}
