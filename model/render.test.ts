import { deepEqual, ok } from "node:assert/strict";
import { blendColors, drawMap, normalisedMap, resizeImage } from "./render.ts";

const gray = (size: number, v: number) => ({
  width: size,
  height: size,
  data: new Uint8Array(size * size * 3).fill(v),
});

Deno.test("resizeImage interpolates bilinearly and keeps constant images constant", () => {
  deepEqual(resizeImage(gray(4, 90), 9).data, gray(9, 90).data);
  // A 2x1 ramp black | white upscaled to 4 wide: 0, 64, 191, 255 along the row.
  const ramp = {
    width: 2,
    height: 2,
    data: Uint8Array.of(0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255),
  };
  const row = [...resizeImage(ramp, 4).data.subarray(0, 12)].filter((_, k) => k % 3 === 0);
  deepEqual(row, [0, 64, 191, 255]);
});

Deno.test("normalisedMap divides by the peak, clips to [0, 1], and is zero for a dead filter", () => {
  // Two 1x2 maps; map 1 is [2, 8] with peak 4 -> [0.5, 1 (clipped)].
  const maps = Float32Array.of(9, 9, 2, 8);
  deepEqual([...normalisedMap(maps, 1, [1, 2], 4, 2)].slice(0, 2), [0.5, 1]);
  ok(normalisedMap(maps, 1, [1, 2], 0, 2).every((v) => v === 0));
});

Deno.test("drawMap: heat colours, overlay keeps weak positions, contour outlines the region in red", () => {
  const map = new Float32Array(25);
  for (const p of [6, 7, 8, 11, 12, 13, 16, 17, 18]) map[p] = 1; // a 3x3 square in a 5x5 picture
  const heat = drawMap(map, gray(5, 100), "heat");
  deepEqual([...heat.data.subarray(0, 3)], [0, 0, 0]);
  deepEqual([...heat.data.subarray(12 * 3, 12 * 3 + 3)], [255, 255, 255]);
  const overlay = drawMap(map, gray(5, 100), "overlay");
  deepEqual([...overlay.data.subarray(0, 3)], [100, 100, 100]);
  const contour = drawMap(map, gray(5, 100), "contour");
  deepEqual([...contour.data.subarray(0, 3)], [50, 50, 50], "outside is dimmed");
  deepEqual([...contour.data.subarray(6 * 3, 6 * 3 + 3)], [255, 0, 0], "the square's edge is red");
  deepEqual(
    [...contour.data.subarray(12 * 3, 12 * 3 + 3)],
    [100, 100, 100],
    "its inside is the image",
  );
});

Deno.test("blendColors changes only the coloured pixels", () => {
  const colors = gray(2, 0);
  colors.data.set([255, 0, 0], 0);
  const blended = blendColors(gray(2, 100), colors);
  deepEqual([...blended.data.subarray(0, 6)], [185, 45, 45, 100, 100, 100]);
});
