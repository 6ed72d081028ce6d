import { equal } from "node:assert/strict";
import { sha256Hex } from "./sha256.ts";

Deno.test("sha256Hex matches the standard's test vectors, for bytes and for a string's UTF-8", () => {
  equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  equal(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  equal(sha256Hex(new TextEncoder().encode("abc")), sha256Hex("abc"));
  equal(sha256Hex("é"), sha256Hex(new Uint8Array([0xc3, 0xa9])));
});
