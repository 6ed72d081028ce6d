import { equal, ok, rejects } from "node:assert/strict";
import { EngineError } from "../errors.ts";
import { exp, relu } from "../ops/elementwise.ts";
import { matmul } from "../ops/matmul.ts";
import { scope, tensor } from "../tensor.ts";
import { initEngine } from "../engine.ts";

const { backend } = await initEngine({ backend: "cpu" });

Deno.test("the CPU backend's profiler times and counts launches per kernel name", async () => {
  const x = tensor([-1, 2, -3, 4], [2, 2]);
  backend.startProfiling();
  scope(() => {
    relu(x);
    relu(exp(x));
    matmul(x, x);
  });
  const totals = await backend.stopProfiling();
  x.dispose();
  equal(totals.get("relu")?.count, 2);
  equal(totals.get("exp")?.count, 1);
  equal(totals.get("matmul")?.count, 1);
  equal(totals.size, 3);
  for (const { ms } of totals.values()) ok(ms >= 0 && Number.isFinite(ms));
});

Deno.test("stopping a CPU profiler that was never started is an error", async () => {
  await rejects(() => backend.stopProfiling(), EngineError);
});
