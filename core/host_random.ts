/**
 * Seeded random numbers on the host, for data order, flips and synthetic
 * images. A stream is a pure function of its integer keys, so any position of
 * a run (epoch, image) can be recomputed without stored state.
 *
 * @module
 */

/** 32-bit mix of a hash state with one more key (MurmurHash3's finaliser). */
function mix(h: number, key: number): number {
  h = Math.imul(h ^ (key >>> 0) ^ Math.floor(key / 2 ** 32), 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** mulberry32: uniform numbers in [0, 1) from a 32-bit state. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A generator of uniform numbers in [0, 1) determined by `keys` (integers
 * below 2^53, e.g. seed, epoch, index); mulberry32 seeded from their hash.
 */
export function hostRandom(...keys: number[]): () => number {
  return mulberry32(keys.reduce(mix, 0x2545f491));
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, random: () => number): Uint32Array {
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = k;
  for (let k = n - 1; k > 0; k--) {
    const j = Math.floor(random() * (k + 1));
    [order[k], order[j]] = [order[j], order[k]];
  }
  return order;
}
