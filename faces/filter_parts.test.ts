import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { filterParts, filtersOfPart } from "./filter_parts.ts";
import { FACE_PARTS } from "./parts.ts";
import { syntheticPartMaps } from "./testing.ts";

Deno.test("filterParts finds each filter's part; filtersOfPart ranks them", () => {
  const { maps, labels } = syntheticPartMaps(6);
  const rows = filterParts(maps, labels, 64, Int32Array.from([0, 0, 1, -1]));
  deepEqual(rows.map((r) => [r.filter, r.group, r.bestPart]), [
    [0, 0, "mouth"],
    [1, 0, "mouth"],
    [2, 1, "eyes"],
    [3, null, "background"],
  ]);
  const mouth = FACE_PARTS.indexOf("mouth");
  ok(rows[0].score > 0.5, `the mouth filter overlaps the mouth: ${rows[0].score}`);
  equal(rows[0].overlaps[mouth], rows[0].score);
  equal(rows[2].overlaps[mouth], 0, "the eye filter never touches the mouth");
  equal(rows[3].overlaps.length, FACE_PARTS.length);
  deepEqual(filtersOfPart(rows, "eyes", 2).map((r) => r.filter)[0], 2);
  deepEqual(filtersOfPart(rows, "mouth", 2).map((r) => r.filter).toSorted(), [0, 1]);
});

Deno.test("filterParts refuses labels or groups of another shape", () => {
  const { maps, labels } = syntheticPartMaps(2);
  throws(() => filterParts(maps, labels.subarray(1), 64, new Int32Array(4)), /labels hold/);
  throws(() => filterParts(maps, labels, 64, new Int32Array(3)), /groupOf names 3 filters/);
});
