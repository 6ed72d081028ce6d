/**
 * The two backends against each other: the same seeded draws, and the same
 * training computation (convolution, batch norm, loss, gradients, an Adam
 * step) give the same numbers to f32 rounding.
 */
import { equal, ok } from "node:assert/strict";
import { valueAndGrad } from "./autograd.ts";
import { initEngine } from "./engine.ts";
import { withEnv } from "./testing/harness.ts";
import { batchNorm2d, BatchNormState } from "./ops/batchnorm.ts";
import { conv2d, convTranspose2d } from "./ops/conv.ts";
import { leakyRelu, mul } from "./ops/elementwise.ts";
import { mean } from "./ops/reduce.ts";
import { Adam } from "./optim/adam.ts";
import { Parameter } from "./optim/parameter.ts";
import { RandomStream } from "./random.ts";
import { asyncScope, ones, zeros } from "./tensor.ts";

/** Largest |a - b| / (1 + |b|). */
function worst(a: Float32Array, b: Float32Array): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return w;
}

/** One small training computation, all on the current backend; returns what it read back. */
function computation(): Promise<Float32Array[]> {
  return asyncScope(async () => {
    const gen = new RandomStream(5);
    const uniform = gen.uniform([1000], -3, 2);
    const normal = gen.normal([999], 1, 2);
    const x = gen.normal([4, 3, 9, 9]);
    const w = new Parameter("w", gen.normal([6, 3, 4, 4], 0, 0.2));
    const wt = gen.normal([6, 2, 4, 4], 0, 0.2);
    const state = new BatchNormState(6);
    const { value, grads } = valueAndGrad(() => {
      const h = conv2d(x, w.value, undefined, { stride: 2, padding: 1 });
      const n = batchNorm2d(h, ones([6]), zeros([6]), state, { training: true });
      const y = convTranspose2d(leakyRelu(n), wt, undefined, { stride: 2, padding: 1 });
      return mean(mul(y, y));
    }, [w.value]);
    const adam = new Adam({ lr: 0.01 });
    adam.step([w], grads);
    const out = [
      await uniform.data(),
      await normal.data(),
      await value.data(),
      await grads[0].data(),
      await w.value.data(),
      await state.runningVar.data(),
    ];
    adam.dispose();
    w.dispose();
    state.dispose();
    return out;
  });
}

Deno.test("CPU and WebGPU backends agree: draws, forward, gradients, an Adam step", async () => {
  await initEngine({ backend: "cpu" });
  const cpu = await computation();
  await initEngine({ backend: "webgpu" });
  const gpu = await computation();
  await initEngine();
  const names = ["uniform", "normal", "loss", "gradient", "updated weight", "running variance"];
  names.forEach((name, k) => {
    const error = worst(cpu[k], gpu[k]);
    ok(error <= (k < 2 ? 1e-6 : 1e-4), `${name}: relative difference ${error}`);
  });
});

Deno.test("IGAN_ADAPTER with the backend left to auto asks for WebGPU", async () => {
  const engine = await withEnv(
    { IGAN_BACKEND: undefined, IGAN_ADAPTER: "software" },
    () => initEngine(),
  );
  equal(engine.report.backend, "webgpu");
  equal(engine.report.software, true);
  await initEngine();
});
