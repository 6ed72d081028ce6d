/**
 * Content negotiation by the `Accept` header (RFC 9110, 12.5.1): how much a
 * client wants a media type.
 *
 * @module
 */

/**
 * The quality (0..1) the `accept` header gives `type` (`image/png`): that of
 * the most specific range matching it (`image/png`, then `image/*`, then
 * any type), 0 when none does; 1 without a header, which accepts anything.
 */
export function acceptedQuality(accept: string | null | undefined, type: string): number {
  if (!accept || accept.trim() === "") return 1;
  const [major] = type.split("/");
  let best = { specificity: -1, quality: 0 };
  for (const part of accept.split(",")) {
    const [range, ...parameters] = part.split(";").map((text) => text.trim().toLowerCase());
    const specificity = range === type ? 2 : range === `${major}/*` ? 1 : range === "*/*" ? 0 : -1;
    if (specificity <= best.specificity) continue;
    const q = parameters.find((p) => p.startsWith("q="));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    best = {
      specificity,
      quality: Number.isFinite(quality) ? Math.min(Math.max(quality, 0), 1) : 0,
    };
  }
  return best.quality;
}
