import { equal, ok } from "node:assert/strict";
import { valueAndGrad } from "../engine/autograd.ts";
import { initEngine } from "../engine/engine.ts";
import { asyncScope, tensor } from "../engine/tensor.ts";
import { hostRandom } from "../../core/host_random.ts";
import { FIXED_SHARE_LIMIT, fixedShares } from "../../core/fixed_share.ts";
import { fixedPatternPenalty, fixedShare } from "./fixed_share.ts";

await initEngine();

/**
 * Maps [2, 3, 2, 2] of three filters on two images: filter 0 draws nearly the
 * same pattern on both, filter 1 draws on disjoint positions with equal
 * energy, filter 2 is off.
 */
const MAPS = new Float32Array([
  // image 0: filters 0, 1, 2
  ...[1, 0, 2, 0],
  ...[3, 0, 0, 0],
  ...[0, 0, 0, 0],
  // image 1
  ...[1, 0, 2, 0.5],
  ...[0, 0, 0, 3],
  ...[0, 0, 0, 0],
]);

/** Filter 0's: |(1, 0, 2, 0.25)|^2 / mean(|(1, 0, 2, 0)|^2, |(1, 0, 2, 0.5)|^2). */
const NEARLY_FIXED = 5.0625 / 5.125;

Deno.test("fixedShare: near 1 for a nearly fixed pattern, 1/2 for disjoint drawings, 0 for a filter that is off", async () => {
  await asyncScope(async () => {
    const shares = await fixedShare(tensor(MAPS, [2, 3, 2, 2])).data();
    ok(Math.abs(shares[0] - NEARLY_FIXED) < 1e-6, `nearly fixed ${shares[0]}`);
    ok(Math.abs(shares[1] - 0.5) < 1e-6, `disjoint ${shares[1]}`);
    equal(shares[2], 0);
  });
});

Deno.test("fixedShare is the host measure of core/fixed_share.ts", async () => {
  const random = hostRandom(3);
  const data = Float32Array.from({ length: 5 * 4 * 3 * 3 }, () => Math.max(0, random() - 0.3));
  await asyncScope(async () => {
    const engine = await fixedShare(tensor(data, [5, 4, 3, 3])).data();
    const host = fixedShares({ data, shape: [5, 4, 3, 3] });
    host.forEach((s, j) => ok(Math.abs(engine[j] - s) < 1e-5, `filter ${j}: ${engine[j]} vs ${s}`));
  });
});

Deno.test("fixedPatternPenalty: weight times the mean excess over the limit, pushing only the fixed filter", async () => {
  await asyncScope(async () => {
    const maps = tensor(MAPS, [2, 3, 2, 2]);
    const { value, grads } = valueAndGrad(
      () => fixedPatternPenalty(maps, 3, FIXED_SHARE_LIMIT),
      [maps],
    );
    const expected = (3 * (NEARLY_FIXED - FIXED_SHARE_LIMIT)) / 3;
    ok(Math.abs(await value.item() - expected) < 1e-6, `penalty ${await value.item()}`);
    const grad = await grads[0].data();
    const filterGrad = (j: number) =>
      [0, 1].flatMap((i) => Array.from(grad.subarray((i * 3 + j) * 4, (i * 3 + j + 1) * 4)));
    ok(filterGrad(0).some((g) => g !== 0), "the fixed filter is pushed");
    ok(filterGrad(1).every((g) => g === 0), "the filter under the limit is not");
    ok(filterGrad(2).every((g) => g === 0), "nor the filter that is off");
  });
});
