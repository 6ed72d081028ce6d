import { deepEqual, equal } from "node:assert/strict";
import { valueAndGrad } from "./engine/autograd.ts";
import { initEngine } from "./engine/engine.ts";
import { sum } from "./engine/ops/reduce.ts";
import { asyncScope, tensor } from "./engine/tensor.ts";
import { augment } from "./augment.ts";

await initEngine();

/** A "random" generator that replays `values` in a loop. */
function replay(...values: number[]): () => number {
  let k = 0;
  return () => values[k++ % values.length];
}

const [B, C, H, W] = [2, 3, 8, 8];
const pixels = Array.from({ length: B * C * H * W }, (_, i) => i + 1);

Deno.test("augment: color with every draw at its middle changes nothing", async () => {
  await asyncScope(async () => {
    const x = tensor(pixels.map((v) => v / 400 - 0.5), [B, C, H, W]);
    const y = await augment(x, ["color"], replay(0.5)).data();
    const expected = await x.data();
    for (let i = 0; i < y.length; i++) equal(Math.abs(y[i] - expected[i]) < 1e-5, true);
  });
});

Deno.test("augment: translation shifts each image, zero-filled, and its gradient follows", async () => {
  await asyncScope(async () => {
    const x = tensor(pixels, [B, C, H, W]);
    // Image 0 draws dy = +1, dx = -1 (most shift 1 at side 8); image 1 draws no shift.
    const random = replay(0.99, 0.0, 0.5, 0.5);
    const { value, grads } = valueAndGrad(
      () => sum(augment(x, ["translation"], random)),
      [x],
    );
    const y = await augment(x, ["translation"], replay(0.99, 0.0, 0.5, 0.5)).data();
    const at = (b: number, c: number, yy: number, xx: number) => ((b * C + c) * H + yy) * W + xx;
    equal(y[at(0, 1, 0, 3)], 0, "the row shifted in from above is zero");
    equal(y[at(0, 1, 2, 3)], pixels[at(0, 1, 1, 4)]);
    equal(y[at(0, 2, 5, W - 1)], 0, "the column shifted in from the right is zero");
    deepEqual([...y.subarray(at(1, 0, 0, 0))], pixels.slice(at(1, 0, 0, 0)));
    // Each input pixel that is still shown gets gradient 1; those shifted out get 0.
    const g = await grads[0].data();
    equal(g[at(0, 0, H - 1, 3)], 0, "the bottom row left the image");
    equal(g[at(0, 0, 3, 0)], 0, "the left column left the image");
    equal(g[at(0, 0, 3, 3)], 1);
    equal(await value.item(), [...y].reduce((a, b) => a + b, 0));
  });
});

Deno.test("augment: cutout zeroes a square of half the side", async () => {
  await asyncScope(async () => {
    const x = tensor(pixels, [B, C, H, W]);
    const y = await augment(x, ["cutout"], replay(0.5)).data();
    const zeros = y.filter((v) => v === 0).length;
    equal(zeros, B * C * (H / 2) * (W / 2));
    equal(y[((0 * C + 0) * H + 4) * W + 4], 0, "the square is centred at (4, 4)");
    equal(y[0], pixels[0]);
  });
});
