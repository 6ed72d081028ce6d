import { deepEqual, equal } from "node:assert/strict";
import { cpuTile } from "./gemm.ts";

Deno.test("cpu GEMM blocks: 32 x 32 only for products with M and N >= 1024", async (t) => {
  await t.step("1024^3 takes the 32 x 32 block", () => {
    const tile = cpuTile({ M: 1024, N: 1024, K: 1024 });
    deepEqual([tile.rows, tile.cols], [32, 32]);
  });
  await t.step(
    "the largest DCGAN W64 GEMMs stay at 16 x 16 (a 32 x 32 compile takes minutes)",
    () => {
      // Their M is a channel count (at most 512); N, batch x positions, reaches 65536.
      for (const spec of [{ M: 512, N: 1024, K: 4096 }, { M: 256, N: 65536, K: 2048 }]) {
        deepEqual([cpuTile(spec).rows, cpuTile(spec).cols], [16, 16]);
      }
    },
  );
  await t.step("small products shrink the block to exact counts", () => {
    const tile = cpuTile({ M: 16, N: 48, K: 65536 });
    deepEqual([tile.rows, tile.cols, tile.laneRows, tile.laneCols], [8, 3, 2, 16]);
  });
  await t.step("2 to 4 rows are rotated over all lanes", () => {
    const tile = cpuTile({ M: 3, N: 65536, K: 64 });
    equal(tile.rotated, true);
    deepEqual([tile.rows, tile.laneRows], [3, 1]);
    equal(cpuTile({ M: 1, N: 64, K: 2048 }).rotated, false);
    equal(cpuTile({ M: 5, N: 64, K: 64 }).rotated, false);
  });
});
