/**
 * The safetensors file layout (https://github.com/huggingface/safetensors),
 * for f32 tensors, some of which may be stored as f16 and are read back as
 * f32: an 8-byte little-endian header length N, N bytes of JSON
 * header (`{"name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]},
 * "__metadata__": {string: string}}`, padded with spaces to a multiple of 8),
 * then the tensors' little-endian bytes, offsets relative to the end of the
 * header. Files written here carry in the metadata the CRC-32 of the whole
 * file, header included (with that value's digits read as zeros), and load in
 * Python with `safetensors.numpy.load_file`.
 *
 * @module
 */

import { crc32Hex } from "../core/crc32.ts";
import { fitsHalfPrecision } from "../core/numbers.ts";

/** One f32 array and its shape. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** The contents of a safetensors file. */
export interface Safetensors {
  tensors: Record<string, HostTensor>;
  metadata: Record<string, string>;
}

/** A file that is not a valid safetensors file of f32 and f16 tensors. */
export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/**
 * Metadata key of the CRC-32 of the whole file, its own 8 hex digits taken as
 * `00000000`: written by {@link encodeSafetensors}, checked by
 * {@link decodeSafetensors}.
 */
export const CHECKSUM_KEY = "crc32";

/**
 * Metadata key of the CRC-32 of the tensor data alone (all bytes after the
 * header), which files written before {@link CHECKSUM_KEY} carry; still checked.
 */
export const DATA_CHECKSUM_KEY = "data_crc32";

/**
 * The `format` metadata of this project's files from version 2 on (`.../2`):
 * such a file must carry the whole file's checksum, so that a damaged key
 * cannot switch the check off. Version 1 and files from elsewhere may lack it.
 */
const CHECKSUMMED_FORMAT = /^interpretable-gan-[\w-]+\/([2-9]|[1-9]\d+)$/;

/** The checksum's place holder while it is computed. */
const ZEROS = "00000000";

/** How {@link encodeSafetensors} stores tensors. */
export interface EncodeOptions {
  /**
   * Whether the tensor of this name is stored in half precision (f16) to save space [none]; one
   * with a value beyond half precision's range is stored in f32.
   */
  halfPrecision?: (name: string) => boolean;
}

/** The bytes of one value of each stored dtype, and how it is written and read. */
const DTYPES = {
  F32: {
    bytes: 4,
    set: (view: DataView, at: number, value: number) => view.setFloat32(at, value, true),
    get: (view: DataView, at: number) => view.getFloat32(at, true),
  },
  F16: {
    bytes: 2,
    set: (view: DataView, at: number, value: number) => view.setFloat16(at, value, true),
    get: (view: DataView, at: number) => view.getFloat16(at, true),
  },
} as const;

/** Serialises `contents`; tensors are laid out in name order, and the file carries its checksum. */
export function encodeSafetensors(contents: Safetensors, options: EncodeOptions = {}): Uint8Array {
  for (const key of [CHECKSUM_KEY, DATA_CHECKSUM_KEY]) {
    if (key in contents.metadata) {
      throw new SafetensorsError(`metadata "${key}" is the file's own.`);
    }
  }
  const names = Object.keys(contents.tensors).sort();
  const dtypes = names.map((name) =>
    options.halfPrecision?.(name) && fitsHalfPrecision(contents.tensors[name].data) ? "F16" : "F32"
  );
  const entries: Record<string, unknown> = {};
  let offset = 0;
  for (const [i, name] of names.entries()) {
    const { shape, data } = contents.tensors[name];
    if (shape.reduce((a, b) => a * b, 1) !== data.length) {
      throw new SafetensorsError(
        `tensor "${name}" has shape [${shape.join(", ")}] but ${data.length} values.`,
      );
    }
    const dtype = dtypes[i], byteLength = data.length * DTYPES[dtype].bytes;
    entries[name] = { dtype, shape, data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }
  // The checksum is always 8 hex digits: the header's length is known before the data is written.
  const header = (checksum: string) => {
    const metadata = { ...contents.metadata, [CHECKSUM_KEY]: checksum };
    const json = JSON.stringify({ __metadata__: metadata, ...entries });
    const length = new TextEncoder().encode(json).length;
    return new TextEncoder().encode(json + " ".repeat((8 - (length % 8)) % 8));
  };
  const placeholder = header(ZEROS);
  const headerLength = placeholder.length;
  const dataStart = 8 + headerLength;
  const bytes = new Uint8Array(dataStart + offset);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  let at = dataStart;
  for (const [i, name] of names.entries()) {
    const { data } = contents.tensors[name];
    const { bytes: size, set } = DTYPES[dtypes[i]];
    for (let k = 0; k < data.length; k++) set(view, at + size * k, data[k]);
    at += data.length * size;
  }
  bytes.set(placeholder, 8);
  bytes.set(header(crc32Hex(bytes)), 8);
  return bytes;
}

/**
 * Parses a safetensors file of f32 and f16 tensors, all read as f32; throws
 * {@link SafetensorsError} when malformed.
 */
export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  if (bytes.length < 8) {
    throw new SafetensorsError("the file is shorter than its 8-byte header length.");
  }
  // A safetensors header is JSON right after its 8-byte length: anything else is another kind of file.
  if (bytes.length > 8 && bytes[8] !== 0x7b) {
    throw new SafetensorsError("it is not a safetensors file (no JSON header after its length).");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length) {
    throw new SafetensorsError(`the header claims ${headerLength} bytes; the file is truncated.`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    throw new SafetensorsError(`the header is not JSON: ${(error as Error).message}`);
  }
  const dataStart = 8 + headerLength;
  checkChecksum(bytes, headerLength, header.__metadata__ as Record<string, string> | undefined);
  const tensors: Record<string, HostTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      // The checksum is the file's, not the contents': it was checked above.
      const {
        [CHECKSUM_KEY]: _checksum,
        [DATA_CHECKSUM_KEY]: _dataChecksum,
        ...rest
      } = entry as Record<string, string>;
      metadata = rest;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = entry as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    if (dtype !== "F32" && dtype !== "F16") {
      throw new SafetensorsError(`tensor "${name}" is ${dtype}; only F32 and F16 are read.`);
    }
    const { bytes: size, get } = DTYPES[dtype];
    const count = shape.reduce((a, b) => a * b, 1);
    if (offsets[1] - offsets[0] !== count * size || dataStart + offsets[1] > bytes.length) {
      throw new SafetensorsError(
        `tensor "${name}" has offsets that do not fit its shape or the file.`,
      );
    }
    const data = new Float32Array(count);
    for (let k = 0; k < count; k++) data[k] = get(view, dataStart + offsets[0] + size * k);
    tensors[name] = { shape, data };
  }
  return { tensors, metadata };
}

/** Throws {@link SafetensorsError} unless the file's bytes match the checksum its metadata carries. */
function checkChecksum(
  bytes: Uint8Array,
  headerLength: number,
  metadata: Record<string, string> | undefined,
): void {
  const dataStart = 8 + headerLength;
  const whole = metadata?.[CHECKSUM_KEY], data = metadata?.[DATA_CHECKSUM_KEY];
  const damaged = "the file is corrupt or truncated, or was rewritten by another tool.";
  if (whole !== undefined) {
    // The value's digits are found where the encoder wrote them, and read as zeros; a
    // one-byte decoding keeps the text's indices the bytes'.
    const text = new TextDecoder("latin1").decode(bytes.subarray(8, dataStart));
    const written = `"${CHECKSUM_KEY}":"${whole}"`;
    const at = text.indexOf(written);
    if (!/^[0-9a-f]{8}$/.test(whole) || at < 0 || text.indexOf(written, at + 1) >= 0) {
      throw new SafetensorsError(`its checksum is not as this project writes it: ${damaged}`);
    }
    const digits = 8 + at + `"${CHECKSUM_KEY}":"`.length;
    const actual = crc32Hex(
      bytes.subarray(0, digits),
      new TextEncoder().encode(ZEROS),
      bytes.subarray(digits + 8),
    );
    if (actual !== whole) {
      throw new SafetensorsError(
        `it does not match its checksum (CRC-32 ${actual}, written as ${whole}): ${damaged}`,
      );
    }
  } else if (data !== undefined) {
    const actual = crc32Hex(bytes.subarray(dataStart));
    if (actual !== data) {
      throw new SafetensorsError(
        `its tensor data does not match its checksum (CRC-32 ${actual}, written as ${data}): ` +
          damaged,
      );
    }
  } else if (CHECKSUMMED_FORMAT.test(metadata?.format ?? "")) {
    throw new SafetensorsError(`it carries no checksum, as its format must: ${damaged}`);
  }
}
