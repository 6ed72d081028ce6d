import { ok } from "node:assert/strict";
import { initEngine } from "../engine/engine.ts";
import { asyncScope, tensor } from "../engine/tensor.ts";
import { batchPixels } from "../data/sampler.ts";
import { syntheticFaces } from "../data/synthetic.ts";
import { trainSegmenter } from "./segmenter.ts";

await initEngine();

Deno.test("the part segmenter labels held-out synthetic faces", async () => {
  const train = syntheticFaces({ count: 256, resolution: 32, seed: 1 });
  const heldOut = syntheticFaces({ count: 16, resolution: 32, seed: 2 });
  const { segmenter, loss } = await trainSegmenter(train, { steps: 200, batch: 16 });
  try {
    const indices = [...Array(16).keys()];
    const predicted = await asyncScope(() =>
      segmenter.predict(
        tensor(batchPixels(heldOut, { indices, flips: indices.map(() => false) }), [16, 3, 32, 32]),
      )
    );
    let right = 0;
    predicted.forEach((part, q) => (right += part === heldOut.masks![q] ? 1 : 0));
    const accuracy = right / predicted.length;
    // Always guessing the commonest part (background) scores about 0.5.
    ok(accuracy > 0.9, `pixel accuracy ${accuracy.toFixed(3)}, last loss ${loss.toFixed(3)}`);
  } finally {
    segmenter.dispose();
  }
});
