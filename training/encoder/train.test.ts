import { equal, throws } from "node:assert/strict";
import { DataError } from "../data/image_set.ts";
import { syntheticFaces } from "../data/synthetic.ts";
import { holdoutPhotos } from "./train.ts";

Deno.test("holdoutPhotos: the set's last images; more than the set holds, or none, is a DataError", () => {
  const set = syntheticFaces({ count: 4, resolution: 32 });
  const plane = 3 * 32 * 32;
  const last = holdoutPhotos(set, 1), all = holdoutPhotos(set, 4);
  equal(last.length, plane);
  equal(all.length, 4 * plane);
  equal(last.join(), all.subarray(3 * plane).join(), "one held out is the last image");
  for (const bad of [0, 5]) {
    throws(
      () => holdoutPhotos(set, bad),
      (e) => e instanceof DataError && /1 to 4/.test(e.message),
    );
  }
});
