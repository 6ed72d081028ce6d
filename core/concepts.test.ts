import { deepEqual, equal, ok } from "node:assert/strict";
import { conceptMetrics, type TargetMaps } from "./concepts.ts";

/** 2 images, 4 filters on a 2x2 layer; `on[i][j]` lists the positions filter j fires at in image i. */
function mapsFrom(on: number[][][]): TargetMaps {
  const data = new Float32Array(2 * 4 * 4);
  on.forEach((image, i) =>
    image.forEach((positions, j) => positions.forEach((p) => (data[(i * 4 + j) * 4 + p] = 1)))
  );
  return { data, shape: [2, 4, 2, 2] };
}

Deno.test("conceptMetrics: groups whose members share regions are consistent and separate", () => {
  // Filters 0, 1 fire on the top row, 2, 3 on the bottom row, in both images.
  const maps = mapsFrom([[[0, 1], [0, 1], [2, 3], [2, 3]], [[0, 1], [0, 1], [2, 3], [2, 3]]]);
  const good = conceptMetrics(maps, [0, 0, 1, 1], 2);
  equal(good.consistency, 1);
  deepEqual(good.groupConsistency, [1, 1]);
  equal(good.separation, 0);
  deepEqual(good.groupSizes, [2, 2]);
  // Mixing the groups: each filter's partner fires elsewhere; both centres cover everything.
  const mixed = conceptMetrics(maps, [0, 1, 0, 1], 2);
  equal(mixed.consistency, 0);
  equal(mixed.separation, 1);
  // A filter alone in its group is not compared with itself.
  const single = conceptMetrics(maps, [0, 0, 1, 2], 3);
  deepEqual(single.groupConsistency, [1, null, null]);
  equal(single.consistency, 1);
});

Deno.test("conceptMetrics: purity names the part a group's region overlaps most", () => {
  const maps = mapsFrom([[[0, 1], [0, 1], [2, 3], [2, 3]], [[0, 1], [0, 1], [2, 3], [2, 3]]]);
  // 4x4 part masks: rows 0-1 are "hair" (1), rows 2-3 "mouth" (2) in image 0; image 1 all hair.
  const masks = new Uint8Array(2 * 16);
  masks.fill(1, 0, 8);
  masks.fill(2, 8, 16);
  masks.fill(1, 16, 32);
  const metrics = conceptMetrics(maps, [0, 0, 1, 1], 2, {
    parts: { masks, size: 4, names: ["background", "hair", "mouth"] },
  });
  deepEqual(metrics.purity![0], { group: 0, part: "hair", iou: (1 + 0.5) / 2 });
  equal(metrics.purity![1].part, "mouth");
  equal(metrics.purity![1].iou, 0.5);
  ok(Math.abs(metrics.meanPurity! - (0.75 + 0.5) / 2) < 1e-12);
});
