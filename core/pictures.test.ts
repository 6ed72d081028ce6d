import { deepEqual, equal } from "node:assert/strict";
import {
  differenceMap,
  heatColor,
  planarPicture,
  regionMask,
  resizePlanes,
  tintMask,
} from "./pictures.js";

const gray = (size: number, v: number) => ({
  width: size,
  height: size,
  data: new Uint8Array(size * size * 3).fill(v),
});

Deno.test("planarPicture maps image `index` of [-1, 1] planes to 8-bit RGB, rounded and clipped", () => {
  // Two 1x1 images: the second is red (1, -1, -1); then one past the ends and one half-way.
  deepEqual([...planarPicture(Float32Array.of(0, 0, 0, 1, -1, -1), 1, 1).data], [255, 0, 0]);
  deepEqual([...planarPicture(Float32Array.of(-3, 3, 0), 0, 1).data], [0, 255, 128]);
});

Deno.test("heatColor runs from black through red and yellow to white, clipped to [0, 1]", () => {
  deepEqual(heatColor(0), [0, 0, 0]);
  deepEqual(heatColor(1 / 3), [190, 30, 45]);
  deepEqual(heatColor(1), [255, 255, 255]);
  deepEqual(heatColor(-1), heatColor(0));
  deepEqual(heatColor(2), heatColor(1));
});

Deno.test("resizePlanes interpolates bilinearly between half-pixel centres", () => {
  // One row of two values to 4 x 4: columns at -0.25, 0.25, 0.75 and 1.25 (clipped) of the pair.
  const rows = [...resizePlanes([0, 4], 1, 2, 1, 4)];
  deepEqual(rows, [0, 1, 3, 4, 0, 1, 3, 4, 0, 1, 3, 4, 0, 1, 3, 4]);
});

Deno.test("differenceMap is white where two images differ most and black where they agree", () => {
  const a = gray(2, 0), b = gray(2, 0);
  b.data.set([200, 0, 0], 3);
  const diff = differenceMap(a, b);
  deepEqual([...diff.data.subarray(0, 6)], [0, 0, 0, 255, 255, 255]);
  equal(differenceMap(a, a).data.every((v) => v === 0), true);
});

Deno.test("tintMask changes only the masked pixels", () => {
  const tinted = tintMask(gray(2, 100), Float32Array.of(0, 1, 0, 0));
  deepEqual([...tinted.data.subarray(0, 6)], [100, 100, 100, 193, 40, 40]);
});

Deno.test("regionMask tints the region's positions, scaled to the picture", () => {
  // A 2 x 2 region whose top-left position is set, on a 4 x 4 picture: its top-left quarter.
  const mask = regionMask(gray(4, 100), [1, 0, 0, 0], 2, 2);
  const tinted = Array.from({ length: 16 }, (_, p) => mask.data[p * 3] === 193);
  deepEqual(tinted.map(Number), [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});
