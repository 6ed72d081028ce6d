import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { batchPixels, BatchSampler, impliedCount, SamplerCountError } from "./sampler.ts";
import { DataError, type ImageSet } from "./image_set.ts";

Deno.test("BatchSampler: each epoch visits every image once, in a new order", () => {
  const sampler = new BatchSampler(10, { flip: false, state: { seed: 3, epoch: 0, cursor: 0 } });
  const first = [
    ...sampler.next(4).indices,
    ...sampler.next(4).indices,
    ...sampler.next(2).indices,
  ];
  const second = sampler.next(10).indices;
  deepEqual([...first].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  deepEqual([...second].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  ok(first.join() !== second.join());
  deepEqual(sampler.state(), { seed: 3, epoch: 1, cursor: 10, count: 10 });
});

Deno.test("BatchSampler: a sampler built from a saved state continues identically", () => {
  const a = new BatchSampler(7, { flip: true, state: { seed: 1, epoch: 0, cursor: 0 } });
  a.next(5);
  const saved = a.state();
  const expected = [a.next(6), a.next(6)];
  const b = new BatchSampler(7, { flip: true, state: saved });
  deepEqual([b.next(6), b.next(6)], expected);
});

Deno.test("BatchSampler: a state saved over another number of images is refused", () => {
  const saved = new BatchSampler(40, { flip: false }).state();
  throws(
    () => new BatchSampler(20, { flip: false, state: saved }),
    (e) => e instanceof SamplerCountError && e.count === 20 && e.trained === 40,
  );
  // States stored before the count was kept: a position past the end shows the change.
  throws(
    () => new BatchSampler(20, { flip: false, state: { seed: 0, epoch: 3, cursor: 30 } }),
    (e) => e instanceof SamplerCountError && e.trained === "more than 30",
  );
  new BatchSampler(40, { flip: false, state: { seed: 0, epoch: 3, cursor: 30 } }).next(20);
});

Deno.test("impliedCount: an old state's images from the images drawn in all", () => {
  // The committed checkpoint: 5,500 steps of 32 images, in epoch 19 at image 5,000.
  equal(impliedCount({ seed: 0, epoch: 19, cursor: 5000 }, 5500 * 32), 9000);
  equal(impliedCount({ seed: 0, epoch: 0, cursor: 64 }, 64), undefined, "still the first epoch");
  equal(impliedCount({ seed: 0, epoch: 3, cursor: 5 }, 100), undefined, "no whole count fits");
});

Deno.test("BatchSampler: flips about half the images when asked, none otherwise", () => {
  const flips = new BatchSampler(1000, { flip: true }).next(1000).flips.filter(Boolean).length;
  ok(flips > 430 && flips < 570, `${flips} of 1000 flipped`);
  equal(new BatchSampler(50, { flip: false }).next(50).flips.some(Boolean), false);
  throws(() => new BatchSampler(0, { flip: false }), DataError);
});

Deno.test("batchPixels: planar floats in [-1, 1], mirrored when flipped", () => {
  // Two 2x2 images; image 1's first row is (0,0,0) (255,255,255).
  const pixels = new Uint8Array(2 * 4 * 3);
  pixels.set([0, 0, 0, 255, 255, 255, 51, 102, 153, 0, 0, 0], 12);
  const set: ImageSet = { name: "t", resolution: 2, count: 2, pixels };
  const out = batchPixels(set, { indices: [1, 1], flips: [false, true] });
  equal(out.length, 2 * 3 * 4);
  // Batch 0, red plane: -1, 1, 51/127.5 - 1, -1.
  deepEqual([...out.subarray(0, 4)].map((v) => Math.round(v * 100) / 100), [-1, 1, -0.6, -1]);
  // Batch 1 is mirrored: red plane 1, -1, -1, -0.6; blue plane ends with 153/127.5 - 1 = 0.2 mirrored.
  deepEqual([...out.subarray(12, 16)].map((v) => Math.round(v * 100) / 100), [1, -1, -1, -0.6]);
  deepEqual([...out.subarray(20, 24)].map((v) => Math.round(v * 100) / 100), [1, -1, -1, 0.2]);
});
