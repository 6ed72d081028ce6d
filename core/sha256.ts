/**
 * SHA-256 as lowercase hex: what a bundle's manifest records of each ONNX
 * file, and the digest behind the server's content ids and ETags, a run's
 * checkpoint identity and the data cache's keys.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The lowercase hex SHA-256 of `bytes` (or of a string's UTF-8), computed synchronously. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}
