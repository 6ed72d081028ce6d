import { deepEqual, equal, throws } from "node:assert/strict";
import { crc32Hex } from "../core/crc32.ts";
import {
  CHECKSUM_KEY,
  DATA_CHECKSUM_KEY,
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
} from "./safetensors.ts";

const contents = {
  tensors: {
    "b.weight": { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-8, -7]) },
    "a.bias": { shape: [1], data: new Float32Array([0.25]) },
  },
  metadata: { format: "test/1", note: "ok" },
};

Deno.test("safetensors: round trip of tensors and metadata", () => {
  deepEqual(decodeSafetensors(encodeSafetensors(contents)), contents);
});

Deno.test("safetensors: the layout follows the format", () => {
  const bytes = encodeSafetensors(contents);
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  equal(n % 8, 0, "the header is padded to 8 bytes");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  // Tensors are laid out in name order, little-endian f32.
  deepEqual(header["a.bias"], { dtype: "F32", shape: [1], data_offsets: [0, 4] });
  deepEqual(header["b.weight"], { dtype: "F32", shape: [2, 3], data_offsets: [4, 28] });
  // The checksum covers the whole file, its own digits read as zeros.
  const checksum = header.__metadata__[CHECKSUM_KEY];
  deepEqual(header.__metadata__, { ...contents.metadata, [CHECKSUM_KEY]: checksum });
  const zeroed = bytes.slice();
  const at = new TextDecoder("latin1").decode(bytes).indexOf(`"${checksum}"`) + 1;
  zeroed.set(new TextEncoder().encode("00000000"), at);
  equal(crc32Hex(zeroed), checksum);
  equal(bytes.length, 8 + n + 28);
  equal(view.getFloat32(8 + n, true), 0.25);
  equal(view.getFloat32(8 + n + 4 + 8, true), 3.5);
});

Deno.test("safetensors: tensors chosen for half precision are stored as F16 and read back as f32", () => {
  const bytes = encodeSafetensors(contents, { halfPrecision: (name) => name === "b.weight" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  deepEqual(header["b.weight"], { dtype: "F16", shape: [2, 3], data_offsets: [4, 16] });
  equal(bytes.length, 8 + n + 16);
  const decoded = decodeSafetensors(bytes);
  deepEqual(decoded.tensors["a.bias"], contents.tensors["a.bias"]);
  // Each value is the nearest f16: 1e-8 is below f16's smallest subnormal and reads as 0.
  deepEqual(
    decoded.tensors["b.weight"].data,
    contents.tensors["b.weight"].data.map(Math.f16round),
  );
  deepEqual(Array.from(decoded.tensors["b.weight"].data), [1, -2, 3.5, 0, 0, -7]);
  // A tensor beyond f16's range stays f32 rather than becoming infinite.
  const large = { tensors: { w: { shape: [2], data: new Float32Array([1, 1e5]) } }, metadata: {} };
  deepEqual(decodeSafetensors(encodeSafetensors(large, { halfPrecision: () => true })), large);
});

Deno.test("safetensors: malformed files and shapes throw SafetensorsError", () => {
  throws(() => decodeSafetensors(new Uint8Array(4)), SafetensorsError);
  const bytes = encodeSafetensors(contents);
  throws(() => decodeSafetensors(bytes.subarray(0, 20)), SafetensorsError);
  throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4)), SafetensorsError);
  throws(
    () => decodeSafetensors(new TextEncoder().encode("# A README, not a checkpoint\n")),
    /not a safetensors file/,
  );
  const bad = { tensors: { x: { shape: [3], data: new Float32Array(2) } }, metadata: {} };
  throws(() => encodeSafetensors(bad), SafetensorsError);
});

/** `bytes` with its header replaced by `edit` of the parsed header (re-padded). */
function withHeader(
  bytes: Uint8Array,
  edit: (header: { __metadata__: Record<string, string> }) => void,
): Uint8Array {
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  edit(header);
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

Deno.test("safetensors: a flipped bit anywhere in the file is caught by the checksum", () => {
  const own = { ...contents, metadata: { format: "interpretable-gan-test/2", note: "ok" } };
  const bytes = encodeSafetensors(own);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  // Every byte of the length, the header and the data, bit 0 and bit 4 (bits that keep the JSON valid
  // included: a digit of a value, a letter of a name or of the checksum's key).
  for (let at = 0; at < bytes.length; at++) {
    for (const bit of [0x01, 0x10]) {
      const corrupt = bytes.slice();
      corrupt[at] ^= bit;
      throws(
        () => decodeSafetensors(corrupt),
        SafetensorsError,
        `a flip at byte ${at} (${at < 8 ? "length" : at < 8 + n ? "header" : "data"}) passed`,
      );
    }
  }
});

Deno.test("safetensors: files with the data's checksum alone, or from elsewhere without one, load", () => {
  const bytes = encodeSafetensors(contents);
  const dataOnly = (data: Uint8Array) =>
    withHeader(bytes, (header) => {
      delete header.__metadata__[CHECKSUM_KEY];
      header.__metadata__[DATA_CHECKSUM_KEY] = crc32Hex(data);
    });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  deepEqual(decodeSafetensors(dataOnly(bytes.subarray(8 + n))), contents);
  const corrupt = dataOnly(bytes.subarray(8 + n));
  corrupt[corrupt.length - 3] ^= 0x10;
  throws(
    () => decodeSafetensors(corrupt),
    (e) =>
      e instanceof SafetensorsError && /tensor data does not match its checksum/.test(e.message),
  );
  const plain = withHeader(bytes, (header) => delete header.__metadata__[CHECKSUM_KEY]);
  deepEqual(decodeSafetensors(plain), contents);
  // This project's own files must carry one: a damaged key cannot turn the check off.
  const own = withHeader(plain, (header) => header.__metadata__.format = "interpretable-gan-x/2");
  throws(() => decodeSafetensors(own), /carries no checksum/);
  // Version 1 of this project's formats came before the whole file's checksum.
  const older = withHeader(plain, (header) => header.__metadata__.format = "interpretable-gan-x/1");
  deepEqual(decodeSafetensors(older).metadata.format, "interpretable-gan-x/1");
});
