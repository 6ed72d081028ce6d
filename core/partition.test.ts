import { deepEqual, throws } from "node:assert/strict";
import {
  channelPeaks,
  channelsCentre,
  groupCentres,
  groupMembers,
  groupSizes,
  percentilePeaks,
} from "./partition.ts";
import { regions } from "./regions.ts";

Deno.test("groupSizes, groupCentres and channelPeaks of a partition", () => {
  // 2 images, 3 filters (groups 1, 0, 1 of 3), 2 positions.
  const maps = new Float32Array([1, 2, 3, 4, 5, 6, /* image 1 */ 0, 8, 1, 1, 4, 0]);
  deepEqual(groupSizes([1, 0, 1], 3), [1, 2, 0]);
  const centres = groupCentres(maps, [2, 3, 2], [1, 0, 1], 3);
  // Image 0: group 0 = filter 1; group 1 = mean of filters 0 and 2; group 2 empty.
  deepEqual([...centres], [3, 4, 3, 4, 0, 0, /* image 1 */ 1, 1, 2, 4, 0, 0]);
  deepEqual([...channelPeaks(centres, 2, 3, 2)], [4, 4, 0]);
});

Deno.test("channelsCentre and groupMembers: the mean of chosen channels of one image", () => {
  // 3 channels of 2 positions.
  const maps = new Float32Array([1, 2, 3, 4, 5, 9]);
  deepEqual([...channelsCentre(maps, [0, 2], 2)], [3, 5.5]);
  deepEqual([...channelsCentre(maps, [], 2)], [0, 0]);
  deepEqual(groupMembers([1, 0, 1], 3), [[1], [0, 2], []]);
});

Deno.test("percentilePeaks: the images' own peaks at a percentile, so one outlier does not lead", () => {
  // 100 images of one channel over 2 positions: image i peaks at 1 + i / 100, image 99 at 50.
  const data = new Float32Array(200);
  for (let i = 0; i < 100; i++) data.set([0.5, i === 99 ? 50 : 1 + i / 100], 2 * i);
  deepEqual([...percentilePeaks(data, 100, 1, 2, 100)], [...channelPeaks(data, 100, 1, 2)]);
  // Nearest rank 99 of 100: image 98's peak, the outlier left out.
  deepEqual([...percentilePeaks(data, 100, 1, 2, 99)], [Math.fround(1.98)]);
  deepEqual([...percentilePeaks(data, 100, 1, 2, 50)], [Math.fround(1.49)]);
  // Regions at 0.2 of the largest value lose image 0's whole map; at the 99th percentile's they
  // hold its stronger position only.
  deepEqual([...regions(data, 100, 1, 2, 0.2).subarray(0, 2)], [0, 0]);
  const peaks = percentilePeaks(data, 100, 1, 2, 99);
  deepEqual([...regions(data, 100, 1, 2, 0.3, peaks).subarray(0, 2)], [0, 1]);
  throws(() => percentilePeaks(data, 100, 1, 2, 0), RangeError);
});
