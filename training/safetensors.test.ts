import { deepEqual, equal, throws } from "node:assert/strict";
import { crc32Hex } from "./crc32.ts";
import {
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
  deepEqual(header.__metadata__, {
    ...contents.metadata,
    [DATA_CHECKSUM_KEY]: crc32Hex(bytes.subarray(8 + n)),
  });
  equal(bytes.length, 8 + n + 28);
  equal(view.getFloat32(8 + n, true), 0.25);
  equal(view.getFloat32(8 + n + 4 + 8, true), 3.5);
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

Deno.test("safetensors: a flipped byte in the tensor data is caught by the checksum", () => {
  const bytes = encodeSafetensors(contents);
  const corrupt = bytes.slice();
  corrupt[corrupt.length - 3] ^= 0x10;
  throws(
    () => decodeSafetensors(corrupt),
    (e) => e instanceof SafetensorsError && /checksum/.test(e.message),
  );
  // Files from elsewhere, without a checksum, still load.
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  delete header.__metadata__[DATA_CHECKSUM_KEY];
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const plain = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(plain.buffer).setBigUint64(0, BigInt(json.length), true);
  plain.set(new TextEncoder().encode(json), 8);
  plain.set(bytes.subarray(8 + n), 8 + json.length);
  deepEqual(decodeSafetensors(plain), contents);
});
