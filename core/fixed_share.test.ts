import { equal, ok } from "node:assert/strict";
import { fixedFilterCount, fixedShares } from "./fixed_share.ts";

Deno.test("fixedShares: 1 for a fixed pattern, 1/N for drawings that never overlap, 0 for a filter that is off", () => {
  // Two images, three filters of 2x2: the same pattern twice, disjoint positions, off.
  const data = new Float32Array([
    ...[1, 0, 2, 0],
    ...[3, 0, 0, 0],
    ...[0, 0, 0, 0],
    ...[1, 0, 2, 0],
    ...[0, 0, 0, 3],
    ...[0, 0, 0, 0],
  ]);
  const shares = fixedShares({ data, shape: [2, 3, 2, 2] });
  ok(Math.abs(shares[0] - 1) < 1e-6, `fixed ${shares[0]}`);
  ok(Math.abs(shares[1] - 0.5) < 1e-6, `disjoint ${shares[1]}`);
  equal(shares[2], 0);
  equal(fixedFilterCount(shares), 1);
});
