import { deepEqual } from "node:assert/strict";
import { swapMaps, swapRegion } from "./swap.ts";

// Three filters over four positions; group A is filter 0, which fires at position 1 in the
// target and position 2 in the source (peak 1: the region threshold is 0.2).
const K = 4;
const target = Float32Array.from([0, 1, 0, 0, /**/ 10, 11, 12, 13, /**/ 20, 21, 22, 23]);
const source = Float32Array.from([0, 0, 0.5, 0.125, /**/ 30, 31, 32, 33, /**/ 40, 41, 42, 43]);
const A = { channels: [0], peak: 1 };

Deno.test("swapRegion: where a group reaches the threshold of its peak, in either image", () => {
  deepEqual([...swapRegion(target, source, [A], K)], [0, 1, 1, 0]);
  deepEqual([...swapRegion(target, source, [{ channels: [0], peak: 0 }], K)], [0, 0, 0, 0]);
});

Deno.test("swapMaps: groups exchanges the groups' filters; region also every filter inside", () => {
  deepEqual(
    [...swapMaps(target, source, [A], K, "groups")],
    [0, 0, 0.5, 0.125, 10, 11, 12, 13, 20, 21, 22, 23],
  );
  deepEqual(
    [...swapMaps(target, source, [A], K, "region")],
    [0, 0, 0.5, 0.125, 10, 31, 32, 13, 20, 41, 42, 23],
  );
});
