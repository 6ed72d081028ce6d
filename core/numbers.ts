/**
 * Numbers as logs and reports print them, and as files store them.
 *
 * @module
 */

/** `value` rounded to `digits` decimal places (a number, for JSON lines). */
export function roundTo(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The middle value of `values` (the mean of the two middle ones for an even count; NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b), middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Where the nearest-rank percentile `p` (0..100) of `count` sorted values
 * lies: the smallest value with at least p% of them at or under it.
 */
export function nearestRankIndex(count: number, p: number): number {
  // p * count first: (p / 100) * count rounds 7% of 100 to 7.000000000000001.
  return Math.max(1, Math.ceil((p * count) / 100)) - 1;
}

/** The nearest-rank percentile `p` (0..100) of `values` (NaN for none). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[nearestRankIndex(sorted.length, p)] ?? NaN;
}

/** Half precision's largest finite value. */
const HALF_MAX = 65504;

/** Whether every value of `data` is within half precision's (f16's) finite range. */
export function fitsHalfPrecision(data: Float32Array): boolean {
  return !data.some((x) => Math.abs(x) > HALF_MAX);
}
