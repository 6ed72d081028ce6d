/**
 * 8-bit RGB images on the host: decoding JPEG and PNG files, centre-cropping
 * and resizing them, tiling a batch into a grid, and encoding PNG.
 *
 * @module
 */

import { decode as decodePngFile, encode as encodePngFile } from "fast-png";
import jpeg from "jpeg-js";

/** Interleaved 8-bit RGB pixels, row by row. */
export interface RgbImage {
  width: number;
  height: number;
  /** `width * height * 3` bytes. */
  data: Uint8Array;
}

/** A file that is not a JPEG or PNG image, or one that fails to decode. */
export class ImageDecodeError extends Error {
  override name = "ImageDecodeError";
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

function startsWith(bytes: Uint8Array, signature: number[]): boolean {
  return signature.every((b, k) => bytes[k] === b);
}

/** Decodes a JPEG or PNG file (recognised by its signature, not its name) to RGB. */
export function decodeImage(bytes: Uint8Array): RgbImage {
  try {
    if (startsWith(bytes, JPEG_SIGNATURE)) {
      const { width, height, data } = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: false,
        // Bounds a hostile header's allocation (CelebA needs < 1 MB).
        maxMemoryUsageInMB: 512,
      });
      return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
    }
    if (startsWith(bytes, PNG_SIGNATURE)) return pngToRgb(decodePngFile(bytes));
  } catch (error) {
    throw new ImageDecodeError(`corrupt image: ${(error as Error).message}`);
  }
  throw new ImageDecodeError("not a JPEG or PNG file");
}

function pngToRgb(png: ReturnType<typeof decodePngFile>): RgbImage {
  const { width, height, channels, depth } = png;
  if (png.palette) throw new ImageDecodeError("palette PNGs are not supported");
  const src = png.data;
  const max = depth === 16 ? 65535 : depth === 8 ? 255 : 2 ** depth - 1;
  const data = new Uint8Array(width * height * 3);
  const gray = channels <= 2;
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) {
      const v = src[p * channels + (gray ? 0 : c)];
      data[p * 3 + c] = Math.round((v * 255) / max);
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
  const plane = size * size;
  return Array.from({ length: count }, (_, n) => {
    const data = new Uint8Array(plane * 3);
    for (let c = 0; c < 3; c++) {
      const base = (n * 3 + c) * plane;
      for (let p = 0; p < plane; p++) {
        const v = Math.round((values[base + p] + 1) * 127.5);
        data[p * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
    return { width: size, height: size, data };
  });
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

/** Encodes an RGB image as a PNG file. */
export function encodePng(image: RgbImage): Uint8Array {
  return encodePngFile({
    width: image.width,
    height: image.height,
    data: image.data,
    channels: 3,
    depth: 8,
  });
}
