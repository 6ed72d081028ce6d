import { ok } from "node:assert/strict";
import { valueAndGrad } from "./engine/autograd.ts";
import { initEngine } from "./engine/engine.ts";
import { add, mul, square, tanh } from "./engine/ops/elementwise.ts";
import { linear } from "./engine/ops/matmul.ts";
import { mean, sum } from "./engine/ops/reduce.ts";
import { RandomStream } from "./engine/random.ts";
import { asyncScope, type Tensor } from "./engine/tensor.ts";
import { R1_PROBE_STEP, r1Penalty } from "./losses.ts";

await initEngine();

Deno.test("r1Penalty estimates gamma/2 E|grad D|^2 from logits at probed images", async () => {
  await asyncScope(async () => {
    const random = new RandomStream(11);
    const [images, features] = [4096, 16];
    const x = random.normal([images, features]);
    const w = random.normal([8, features], 0, 0.5);
    // A smooth, per-image "discriminator": logit_b = sum_k tanh(w_k . x_b).
    const logits = (input: Tensor) => sum(tanh(linear(input, w)), 1);
    const exact = valueAndGrad(() => sum(logits(x)), [x]);
    const squaredNorm = await mean(sum(square(exact.grads[0]), 1)).item();

    const gamma = 3;
    const directions = random.normal([images, features]);
    const probed = logits(add(x, mul(directions, R1_PROBE_STEP)));
    const estimate = await r1Penalty(logits(x), probed, gamma).item();
    const expected = (gamma / 2) * squaredNorm;
    // One direction per image: the estimate's relative spread is sqrt(2 / 4096), about 2%.
    ok(Math.abs(estimate / expected - 1) < 0.1, `estimate ${estimate}, exact ${expected}`);
  });
});
