/**
 * Caching of immutable GET responses (they depend only on the URL and the
 * model): a strong ETag of the model's content and the canonical URL, a
 * year-long Cache-Control, and `If-None-Match` answered with 304 before any
 * inference.
 *
 * @module
 */

import { sha256Hex } from "../model/bundle.ts";

/** A strong ETag for an immutable response: the model's content and the canonical URL. */
export function immutableEtag(contentId: string, url: URL): string {
  const query = [...url.searchParams.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `"${
    sha256Hex(`${contentId}\n${url.pathname}\n${new URLSearchParams(query)}`).slice(0, 32)
  }"`;
}

/** Whether an If-None-Match header names `etag` (or `*`). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").map((t) => t.trim()).some((t) => t === "*" || t === etag);
}

/** Cache-Control of immutable responses: one year, never revalidated. */
export const IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable";
