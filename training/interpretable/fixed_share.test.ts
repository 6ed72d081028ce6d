import { ok } from "node:assert/strict";
import { valueAndGrad } from "../engine/autograd.ts";
import { initEngine } from "../engine/engine.ts";
import { asyncScope, tensor } from "../engine/tensor.ts";
import { hostRandom } from "../../core/host_random.ts";
import { fixedShares } from "../../core/fixed_share.ts";
import { fixedPatternPenalty, fixedShare } from "./fixed_share.ts";

await initEngine();

const [N, M, K] = [4, 3, 9];

/**
 * Maps [N, 3, 3, 3]: filter 0 draws one pattern on every image with a
 * little noise, filter 1 draws independently on each, filter 2 is off.
 */
function maps(seed: number): Float32Array {
  const random = hostRandom(seed);
  const pattern = Array.from({ length: K }, () => random());
  const data = new Float32Array(N * M * K);
  for (let i = 0; i < N; i++) {
    for (let p = 0; p < K; p++) {
      data[(i * M + 0) * K + p] = pattern[p] + 0.05 * random();
      data[(i * M + 1) * K + p] = Math.max(0, random() - 0.5);
    }
  }
  return data;
}

Deno.test("fixedShare is the host measure of core/fixed_share.ts", async () => {
  const data = maps(3);
  await asyncScope(async () => {
    const engine = await fixedShare(tensor(data, [N, M, 3, 3])).data();
    const host = fixedShares({ data, shape: [N, M, 3, 3] });
    host.forEach((s, j) => ok(Math.abs(engine[j] - s) < 1e-5, `filter ${j}: ${engine[j]} vs ${s}`));
    ok(host[0] > 0.9 && host[1] < 0.9 && host[2] === 0, `shares ${host}`);
  });
});

Deno.test("fixedPatternPenalty: weight times the mean excess over the limit, pushing only the filter over it", async () => {
  const data = maps(4);
  const limit = 0.9;
  const shares = fixedShares({ data, shape: [N, M, 3, 3] });
  const expected = (3 * shares.reduce((a, s) => a + Math.max(0, s - limit), 0)) / M;
  ok(expected > 0, "filter 0 is over the limit");
  await asyncScope(async () => {
    const f = tensor(data, [N, M, 3, 3]);
    const { value, grads } = valueAndGrad(() => fixedPatternPenalty(f, 3, limit), [f]);
    ok(Math.abs(await value.item() - expected) < 1e-5, `penalty ${await value.item()}`);
    const grad = await grads[0].data();
    const filterGrad = (j: number) =>
      Array.from(
        { length: N },
        (_, i) => Array.from(grad.subarray((i * M + j) * K, (i * M + j + 1) * K)),
      )
        .flat();
    ok(filterGrad(0).some((g) => g !== 0), "the filter over the limit is pushed");
    ok(filterGrad(1).every((g) => g === 0), "the filter under it is not");
    ok(filterGrad(2).every((g) => g === 0), "nor the filter that is off");
  });
});
