import { equal } from "node:assert/strict";
import { crc32Hex } from "./crc32.ts";

Deno.test("CRC-32 matches zlib's check values", () => {
  equal(crc32Hex(new TextEncoder().encode("123456789")), "cbf43926");
  equal(crc32Hex(new Uint8Array(0)), "00000000");
});
