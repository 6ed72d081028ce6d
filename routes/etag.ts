/**
 * Caching of immutable GET responses (they depend only on the URL and the
 * model): a strong ETag of the model's content and the canonical URL, a
 * day-long Cache-Control (private behind an API key), and `If-None-Match`
 * with the ETag answered with 304 before any inference.
 *
 * @module
 */

import { sha256Hex } from "../core/sha256.ts";

/** A strong ETag for an immutable response: the model's content and the canonical URL. */
export function immutableEtag(contentId: string, url: URL): string {
  const query = [...url.searchParams.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `"${
    sha256Hex(`${contentId}\n${url.pathname}\n${new URLSearchParams(query)}`).slice(0, 32)
  }"`;
}

/**
 * Whether an If-None-Match header names `etag`, compared weakly as RFC 9110
 * asks (`W/"x"` matches `"x"`). `*` matches any existing representation, so
 * only `anyExists` tells whether it does: true once the response is known.
 */
export function etagMatches(header: string | undefined, etag: string, anyExists = false): boolean {
  if (!header) return false;
  return header.split(",").map((t) => t.trim().replace(/^W\//, "")).some((t) =>
    t === "*" ? anyExists : t === etag
  );
}

/**
 * Cache-Control of immutable responses: a day, then revalidated with the
 * ETag (a 304 without inference). Not a year: their URLs do not name the
 * model, so a server given another model must be asked again. `private`
 * where an API key guards them, so that no shared cache serves them to
 * clients without the key.
 */
export function immutableCacheControl(behindKey: boolean): string {
  return `${behindKey ? "private" : "public"}, max-age=${IMMUTABLE_MAX_AGE_SECONDS}`;
}

/** How long a client may reuse an immutable response before it revalidates: a day. */
export const IMMUTABLE_MAX_AGE_SECONDS = 86_400;
