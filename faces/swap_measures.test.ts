import { deepEqual, equal, ok } from "node:assert/strict";
import { featherMask, meanErrors, pasteImage, swapLocality } from "./swap_measures.ts";

const S = 8, PIXELS = S * S;
/** A planar [3, S, S] image of one value. */
const flat = (v: number) => new Float32Array(3 * PIXELS).fill(v);
/** The left half of the image as a 0/1 mask. */
const LEFT = Float32Array.from({ length: PIXELS }, (_, p) => (p % S < S / 2 ? 1 : 0));

Deno.test("swapLocality on image pairs with a known mask", async (t) => {
  const target = flat(0), source = flat(1);
  await t.step("a perfect local swap: local and fully transferred", () => {
    const swapped = pasteImage(target, source, LEFT);
    const r = swapLocality(target, swapped, source, LEFT);
    equal(r.outMse, 0);
    equal(r.inMse, 3);
    equal(r.ratio, 0);
    equal(r.transfer, 1);
  });
  await t.step("a swap that changes nothing transfers nothing (its ratio says nothing)", () => {
    const r = swapLocality(target, target, source, LEFT);
    equal(r.transfer, 0);
    ok(Number.isNaN(r.ratio));
  });
  await t.step("a global change is not local; half the way is half a transfer", () => {
    const r = swapLocality(target, flat(0.5), source, LEFT);
    equal(r.ratio, 1);
    equal(r.transfer, 0.75); // 1 - 0.25 / 1 in squared distance
  });
});

Deno.test("featherMask softens the edge and keeps the inside", () => {
  const soft = featherMask(LEFT, S, 1);
  equal(soft[0], 1);
  equal(soft[S - 1], 0);
  ok(soft[S / 2 - 1] > 0.5 && soft[S / 2 - 1] < 1, `edge inside ${soft[S / 2 - 1]}`);
  ok(soft[S / 2] > 0 && soft[S / 2] < 0.5, `edge outside ${soft[S / 2]}`);
});

Deno.test("meanErrors: each error's mean over the swaps", () => {
  deepEqual(
    meanErrors([
      { inMse: 1, outMse: 0.1, before: 2, after: 1 },
      { inMse: 3, outMse: 0.3, before: 4, after: 0 },
    ]),
    { inMse: 2, outMse: 0.2, before: 3, after: 0.5 },
  );
});
