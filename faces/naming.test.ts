import { deepEqual, equal } from "node:assert/strict";
import { groupCentres } from "../core/partition.ts";
import { nameGroups } from "./naming.ts";
import { FACE_PARTS, partLabels } from "./parts.ts";
import { templateLandmarks } from "./testing.ts";

/**
 * Synthetic faces whose parts are known: N images of 64 x 64 from the
 * template landmarks shifted about, and maps [N, 4, 16, 16] whose filters
 * fire on the mouth (filters 0, 1), the eyes (2) and everywhere a little (3).
 */
function syntheticFaces(n: number) {
  const size = 64, h = 16, labels = new Uint8Array(n * size * size);
  const maps = new Float32Array(n * 4 * h * h);
  for (let i = 0; i < n; i++) {
    const image = partLabels(templateLandmarks((i % 3) - 1, (i % 2) * 2 - 1), size);
    labels.set(image, i * size * size);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < h; x++) {
        // The part at the centre of this map cell.
        const part = FACE_PARTS[image[(y * 4 + 2) * size + x * 4 + 2]];
        const at = (j: number) => ((i * 4 + j) * h + y) * h + x;
        maps[at(0)] = maps[at(1)] = part === "mouth" ? 1 : 0;
        maps[at(2)] = part === "eyes" ? 1 : 0;
        maps[at(3)] = 0.5 + 0.5 * (((x * 7 + y * 3 + i) % 5) / 4);
      }
    }
  }
  return { maps: { data: maps, shape: [n, 4, h, h] as [number, number, number, number] }, labels };
}

Deno.test("nameGroups names parts by overlap, leaves the rest unnamed, finds the face", () => {
  const { maps, labels } = syntheticFaces(6);
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
