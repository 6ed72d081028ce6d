/**
 * CRC-32 (IEEE 802.3, as zlib's `crc32` and PNG's chunks): the checksum that
 * checkpoints carry over their bytes, so that a flipped byte is reported on
 * load rather than trained on, and that PNG files carry on each chunk.
 *
 * @module
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of `chunks` one after the other. */
export function crc32(...chunks: Uint8Array[]): number {
  let c = 0xFFFFFFFF;
  for (const bytes of chunks) {
    for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xFF] ^ (c >>> 8);
  }
  return (c ^ 0xFFFFFFFF) >>> 0;
}

/** {@link crc32} as 8 lower-case hex digits. */
export function crc32Hex(...chunks: Uint8Array[]): string {
  return crc32(...chunks).toString(16).padStart(8, "0");
}
