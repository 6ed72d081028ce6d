/**
 * Kernel profiling on whichever backend the engine picks (the test command
 * runs the engine's tests on each): launches and time per kernel name.
 */
import { equal, ok, rejects, throws } from "node:assert/strict";
import { initEngine } from "./engine.ts";
import { EngineError } from "./errors.ts";
import { exp, relu } from "./ops/elementwise.ts";
import { scope, tensor } from "./tensor.ts";
import { WebGpuBackend } from "./webgpu/backend.ts";

const { backend } = await initEngine();

Deno.test("the profiler times and counts launches per kernel name", async () => {
  if (backend instanceof WebGpuBackend && !backend.gpu.device.features.has("timestamp-query")) {
    throws(() => backend.startProfiling(), EngineError);
    return;
  }
  const x = tensor([-1, 2, -3, 4], [4]);
  backend.startProfiling();
  scope(() => {
    relu(x);
    relu(exp(x));
  });
  const totals = await backend.stopProfiling();
  x.dispose();
  equal(totals.get("relu")?.count, 2);
  equal(totals.get("exp")?.count, 1);
  equal(totals.size, 2);
  for (const { ms } of totals.values()) ok(ms >= 0 && Number.isFinite(ms));
});

Deno.test("stopping a profiler that was never started is an error", async () => {
  await rejects(() => backend.stopProfiling(), EngineError);
});
