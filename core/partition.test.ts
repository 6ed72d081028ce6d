import { deepEqual } from "node:assert/strict";
import {
  channelPeaks,
  channelsCentre,
  groupCentres,
  groupMembers,
  groupSizes,
} from "./partition.ts";

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
