import { deepEqual, equal, throws } from "node:assert/strict";
import { defaultSwapMode, grownRegion, swapMaps, swapRegion } from "./swap.ts";
import { PIECE_REACH, piecesNear, SOURCE_REACH } from "../core/swap_maps.js";

// Three filters over four positions; group A is filter 0, which fires at position 1 in the
// target and position 2 in the source (peak 1: the swap's threshold is 0.3, so the source's 0.25
// at position 3 is outside).
const K = 4;
const target = Float32Array.from([0, 1, 0, 0, /**/ 10, 11, 12, 13, /**/ 20, 21, 22, 23]);
const source = Float32Array.from([0, 0, 0.5, 0.25, /**/ 30, 31, 32, 33, /**/ 40, 41, 42, 43]);
const A = { channels: [0], peak: 1 };

Deno.test("swapRegion: where a group reaches the threshold of its peak, the source's within reach of the target's", () => {
  // On the 2x2 grid the source's position 2 is next to the target's 1.
  deepEqual([...swapRegion(target, source, [A], K)], [0, 1, 1, 0]);
  deepEqual([...swapRegion(target, source, [{ channels: [0], peak: 0 }], K)], [0, 0, 0, 0]);
  // A 6x6 grid: the group fires at (0, 0) in the target, at (0, 1) and (0, 4) in the source.
  const k = 36;
  const [t, s] = [new Float32Array(k), new Float32Array(k)];
  t[0] = 1;
  s[1] = s[4] = 1;
  const group = { channels: [0], peak: 1 };
  const inside = (region: Uint8Array) => [...region.keys()].filter((p) => region[p]);
  equal(SOURCE_REACH, 1);
  deepEqual(inside(swapRegion(t, s, [group], k, "region")), [0, 1]);
  // "wide": both parts whole, grown by 2 positions.
  deepEqual(
    inside(swapRegion(t, s, [group], k, "wide")),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
  );
});

Deno.test("piecesNear: the piece holding the start and the pieces within reach of it", () => {
  // A 6x6 grid: a piece of two positions at (0, 0)-(1, 1), one at (0, 3), one at (5, 5).
  const region = new Uint8Array(36);
  for (const p of [0, 7, 3, 35]) region[p] = 1;
  const inside = (r: Uint8Array) => [...r.keys()].filter((p) => r[p]);
  deepEqual(inside(piecesNear(region, 0, 1)), [0, 7]);
  deepEqual(inside(piecesNear(region, 0, 2)), [0, 3, 7]);
  deepEqual(inside(piecesNear(region, 7, 4)), [0, 3, 7, 35]);
  deepEqual(inside(piecesNear(region, 35, 3)), [35]);
  deepEqual(inside(piecesNear(region, 1, 5)), []);
});

Deno.test("swapRegion: a group's far stray piece is left out, in both images", () => {
  // 32x32 maps of one filter: the group's part at (20, 15), a weaker piece within reach at
  // (20, 15 + PIECE_REACH) and a stray at the left edge, (20, 0).
  const side = 32, k = side * side, group = { channels: [0], peak: 1 };
  const maps = new Float32Array(k);
  maps[20 * side + 15] = 1;
  maps[20 * side + 15 + PIECE_REACH] = 0.5;
  maps[20 * side] = 0.5;
  const inside = (r: Uint8Array) => [...r.keys()].filter((p) => r[p]);
  const part = [20 * side + 15, 20 * side + 15 + PIECE_REACH];
  deepEqual(inside(swapRegion(maps, new Float32Array(k), [group], k, "region")), part);
  // "wide" on the source's: the two 5x5 blocks around the part's pieces, nothing at the edge.
  const wide = inside(swapRegion(new Float32Array(k), maps, [group], k, "wide"));
  equal(wide.length, 25 + 25);
  equal(wide.some((p) => p % side < 5), false);
});

Deno.test("swapMaps: groups exchanges the groups' filters; region also every filter inside", () => {
  deepEqual(
    [...swapMaps(target, source, [A], K, "groups")],
    [0, 0, 0.5, 0.25, 10, 11, 12, 13, 20, 21, 22, 23],
  );
  deepEqual(
    [...swapMaps(target, source, [A], K, "region")],
    [0, 0, 0.5, 0.25, 10, 31, 32, 13, 20, 41, 42, 23],
  );
});

Deno.test("grownRegion: every position within the margin of one inside, clipped at the edges", () => {
  // A 5x5 grid with one position inside at (1, 3).
  const region = new Uint8Array(25);
  region[1 * 5 + 3] = 1;
  deepEqual(
    [...grownRegion(region, 1)],
    [
      ...[0, 0, 1, 1, 1],
      ...[0, 0, 1, 1, 1],
      ...[0, 0, 1, 1, 1],
      ...[0, 0, 0, 0, 0],
      ...[0, 0, 0, 0, 0],
    ],
  );
  deepEqual([...grownRegion(region, 0)], [...region]);
  deepEqual([...grownRegion(new Uint8Array(25), 2)], new Array(25).fill(0));
  throws(() => grownRegion(new Uint8Array(6), 1), /must be square/);
});

Deno.test("swapMaps: wide exchanges every filter inside the grown region", () => {
  // Two filters over 16 positions (4x4). The group (filter 0) fires at (0, 0) in the target only,
  // so "region" is that position and "wide" (a margin of 2) the 3x3 block at the corner; filter 1
  // is 0 in the target and 7 in the source.
  const k = 16;
  const target = new Float32Array(2 * k), source = new Float32Array(2 * k).fill(7, k);
  target[0] = 1;
  const group = { channels: [0], peak: 1 };
  deepEqual([...swapRegion(target, source, [group], k, "region")].filter(Boolean).length, 1);
  const wide = swapRegion(target, source, [group], k, "wide");
  deepEqual([...wide], [1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0]);
  deepEqual(
    [...swapMaps(target, source, [group], k, "wide")],
    [...new Array(k).fill(0), ...[...wide].map((v) => 7 * v)],
  );
});

Deno.test("defaultSwapMode: the model's mode, its face-swap mode for exactly the face", () => {
  const faces = { swapMode: "region", faceSwapMode: "wide" } as const;
  const face = [2, 5, 7];
  deepEqual(defaultSwapMode(faces, face, [7, 2, 5]), "wide");
  deepEqual(defaultSwapMode(faces, face, [2, 5]), "region", "part of the face");
  deepEqual(defaultSwapMode(faces, face, [2, 5, 7, 9]), "region", "the face and more");
  deepEqual(defaultSwapMode({ swapMode: "region" }, face, face), "region", "no face-swap mode");
  deepEqual(defaultSwapMode(faces, [], []), "region", "a model without a face");
  deepEqual(defaultSwapMode(null, face, face), "groups", "a model without measurements");
});
