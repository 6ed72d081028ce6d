/**
 * The safetensors file layout (https://github.com/huggingface/safetensors),
 * for f32 tensors: an 8-byte little-endian header length N, N bytes of JSON
 * header (`{"name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]},
 * "__metadata__": {string: string}}`, padded with spaces to a multiple of 8),
 * then the tensors' little-endian bytes, offsets relative to the end of the
 * header. Files written here load in Python with `safetensors.numpy.load_file`.
 *
 * @module
 */

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

/** A file that is not a valid f32 safetensors file. */
export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** Serialises `contents`; tensors are laid out in name order. */
export function encodeSafetensors(contents: Safetensors): Uint8Array {
  const names = Object.keys(contents.tensors).sort();
  const header: Record<string, unknown> = { __metadata__: contents.metadata };
  let offset = 0;
  for (const name of names) {
    const { shape, data } = contents.tensors[name];
    if (shape.reduce((a, b) => a * b, 1) !== data.length) {
      throw new SafetensorsError(
        `tensor "${name}" has shape [${shape.join(", ")}] but ${data.length} values.`,
      );
    }
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  bytes.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const { data } = contents.tensors[name];
    for (let k = 0; k < data.length; k++) view.setFloat32(at + 4 * k, data[k], true);
    at += data.byteLength;
  }
  return bytes;
}

/** Parses a safetensors file of f32 tensors; throws {@link SafetensorsError} when malformed. */
export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  if (bytes.length < 8) {
    throw new SafetensorsError("the file is shorter than its 8-byte header length.");
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
  const tensors: Record<string, HostTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = entry as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    if (dtype !== "F32") {
      throw new SafetensorsError(`tensor "${name}" is ${dtype}; only F32 is read.`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (offsets[1] - offsets[0] !== count * 4 || dataStart + offsets[1] > bytes.length) {
      throw new SafetensorsError(
        `tensor "${name}" has offsets that do not fit its shape or the file.`,
      );
    }
    const data = new Float32Array(count);
    for (let k = 0; k < count; k++) {
      data[k] = view.getFloat32(dataStart + offsets[0] + 4 * k, true);
    }
    tensors[name] = { shape, data };
  }
  return { tensors, metadata };
}
