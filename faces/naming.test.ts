import { deepEqual, equal } from "node:assert/strict";
import { groupCentres } from "../core/partition.ts";
import { nameGroups } from "./naming.ts";
import { syntheticPartMaps } from "./testing.ts";

Deno.test("nameGroups names parts by overlap, leaves the rest unnamed, finds the face", () => {
  const { maps, labels } = syntheticPartMaps(6);
  // Groups: 0 = mouth filters, 1 = eye filter, 2 = the everywhere filter.
  const centres = {
    data: groupCentres(maps.data, [6, 4, 16 * 16], [0, 0, 1, 2], 3),
    shape: [6, 3, 16, 16] as [number, number, number, number],
  };
  const result = nameGroups(centres, labels, 64);
  deepEqual(result.groups.map((g) => [g.group, g.label]), [[0, "mouth"], [1, "eyes"], [2, null]]);
  equal(result.groups[0].insideFace, 1);
  deepEqual(result.face, [0, 1]);
  const strict = nameGroups(centres, labels, 64, { minScore: 0.99 });
  deepEqual(strict.groups.map((g) => g.label), [null, null, null], "a high threshold names none");
});

Deno.test("nameGroups: one image whose group fires far above the rest does not unname it", () => {
  const n = 100, cells = 16 * 16;
  const { maps, labels } = syntheticPartMaps(n);
  const data = groupCentres(maps.data, [n, 4, cells], [0, 0, 1, 2], 3);
  data[(7 * 3 + 1) * cells + 5] = 40; // image 7's eye group, 40 times its peak elsewhere
  const centres = { data, shape: [n, 3, 16, 16] as [number, number, number, number] };
  const names = (peakPercentile?: number) =>
    nameGroups(centres, labels, 64, { peakPercentile }).groups.map((g) => g.label);
  deepEqual(names(), ["mouth", "eyes", null]);
  // Against the largest value over all images, every other image's eye region is gone.
  deepEqual(names(100), ["mouth", null, null]);
});
