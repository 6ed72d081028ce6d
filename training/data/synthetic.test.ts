import { deepEqual, equal, notDeepEqual, ok, throws } from "node:assert/strict";
import { DataError } from "./image_set.ts";
import { FACE_PARTS, syntheticFaces } from "./synthetic.ts";

Deno.test("syntheticFaces: deterministic per seed, different across seeds", () => {
  const a = syntheticFaces({ count: 4, resolution: 32, seed: 7 });
  const b = syntheticFaces({ count: 4, resolution: 32, seed: 7 });
  deepEqual(a.pixels, b.pixels);
  deepEqual(a.masks, b.masks);
  notDeepEqual(syntheticFaces({ count: 4, resolution: 32, seed: 8 }).masks, a.masks);
  // Image k does not depend on how many images are drawn.
  const more = syntheticFaces({ count: 6, resolution: 32, seed: 7 });
  deepEqual(more.pixels.subarray(0, a.pixels.length), a.pixels);
});

Deno.test("syntheticFaces: every part appears in every face at 32 and 64 px", () => {
  for (const resolution of [32, 64]) {
    const set = syntheticFaces({ count: 16, resolution });
    equal(set.pixels.length, 16 * resolution * resolution * 3);
    deepEqual(set.parts, FACE_PARTS);
    const plane = resolution * resolution;
    for (let n = 0; n < set.count; n++) {
      const present = new Set(set.masks!.subarray(n * plane, (n + 1) * plane));
      deepEqual([...present].sort(), FACE_PARTS.map((_, k) => k), `face ${n} at ${resolution} px`);
    }
  }
});

Deno.test("syntheticFaces: one colour per part in a face, and parts move between faces", () => {
  const set = syntheticFaces({ count: 32, resolution: 64 });
  const plane = 64 * 64;
  const mouthRows: number[] = [];
  for (let n = 0; n < set.count; n++) {
    const colours = new Map<number, string>();
    let rowSum = 0, mouthPixels = 0;
    for (let p = 0; p < plane; p++) {
      const part = set.masks![n * plane + p];
      const rgb = set.pixels.subarray((n * plane + p) * 3, (n * plane + p) * 3 + 3).join();
      // Eyes and brows come in pairs of one colour; hair is drawn twice in one colour.
      if (colours.has(part)) equal(colours.get(part), rgb, `face ${n} part ${FACE_PARTS[part]}`);
      colours.set(part, rgb);
      if (part === FACE_PARTS.indexOf("mouth")) {
        [rowSum, mouthPixels] = [rowSum + Math.floor(p / 64), mouthPixels + 1];
      }
    }
    mouthRows.push(rowSum / mouthPixels);
  }
  const spread = Math.max(...mouthRows) - Math.min(...mouthRows);
  ok(spread > 3, `the mouth's mean row varies by ${spread.toFixed(1)} px across faces`);
});

Deno.test("syntheticFaces: bad count or resolution is a DataError", () => {
  throws(() => syntheticFaces({ count: 0, resolution: 32 }), DataError);
  throws(() => syntheticFaces({ count: 2, resolution: 48 }), DataError);
});
