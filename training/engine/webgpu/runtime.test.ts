import { equal, ok, rejects, throws } from "node:assert/strict";
import { initEngine } from "../engine.ts";
import { GpuExecutionError } from "../errors.ts";
import { exp, relu } from "../ops/elementwise.ts";
import { scope, tensor } from "../tensor.ts";
import type { WebGpuBackend } from "./backend.ts";

const { device, runtime } =
  ((await initEngine({ backend: "webgpu" })).backend as WebGpuBackend).gpu;

Deno.test("the profiler times and counts dispatches per kernel", async () => {
  if (!device.features.has("timestamp-query")) {
    throws(() => runtime.startProfiling(), GpuExecutionError);
    return;
  }
  const x = tensor([-1, 2, -3, 4], [4]);
  runtime.startProfiling();
  scope(() => {
    relu(x);
    relu(exp(x));
  });
  const totals = await runtime.stopProfiling();
  x.dispose();
  equal(totals.get("relu")?.count, 2);
  equal(totals.get("exp")?.count, 1);
  equal(totals.size, 2);
  for (const { ms } of totals.values()) ok(ms >= 0 && Number.isFinite(ms));
});

Deno.test("stopping a profiler that was never started is an error", async () => {
  await rejects(() => runtime.stopProfiling(), GpuExecutionError);
});
