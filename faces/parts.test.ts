import { equal, ok } from "node:assert/strict";
import { FACE_PARTS, partLabels, partMask } from "./parts.ts";
import { templateLandmarks } from "./testing.ts";

Deno.test("partLabels draws each part where its landmarks are", () => {
  const labels = partLabels(templateLandmarks(), 64);
  const at = (x: number, y: number) => FACE_PARTS[labels[y * 64 + x]];
  equal(at(32, 48), "mouth");
  equal(at(23, 28), "eyes");
  equal(at(41, 28), "eyes");
  equal(at(19, 21), "brows");
  equal(at(32, 36), "nose");
  equal(at(24, 38), "face skin");
  equal(at(32, 55), "chin");
  equal(at(32, 12), "hair");
  equal(at(2, 62), "background");
  const area = (part: typeof FACE_PARTS[number]) =>
    partMask(labels, [part]).reduce((s, v) => s + v);
  ok(area("mouth") > 30 && area("mouth") < 200, `mouth ${area("mouth")} px`);
  ok(area("face skin") > area("mouth") + area("eyes") + area("nose"));
});

Deno.test("partLabels follows the landmarks when the face moves", () => {
  const before = partLabels(templateLandmarks(), 64);
  const labels = partLabels(templateLandmarks(5, 3), 64);
  equal(FACE_PARTS[labels[51 * 64 + 37]], "mouth");
  equal(FACE_PARTS[before[48 * 64 + 26]], "mouth");
  equal(FACE_PARTS[labels[48 * 64 + 26]], "face skin", "the old mouth corner is skin now");
});
