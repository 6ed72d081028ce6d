import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { valueAndGrad } from "../autograd.ts";
import { initEngine, memoryStats, sync } from "../engine.ts";
import { square } from "../ops/elementwise.ts";
import { linear } from "../ops/matmul.ts";
import { mean } from "../ops/reduce.ts";
import { RandomStream } from "../random.ts";
import { assertClose, HostRng, randomF32 } from "../testing/harness.ts";
import { liveTensorCount, scope, tensor } from "../tensor.ts";
import { Parameter } from "./parameter.ts";
import { SGD, type SGDOptions } from "./sgd.ts";

await initEngine();

/** Float64 host SGD, transcribed from torch.optim.SGD's single-tensor path. */
class ReferenceSGD {
  readonly buffers = new Map<string, Float64Array>();
  readonly options: Required<SGDOptions>;

  constructor(options: SGDOptions) {
    this.options = {
      lr: 1e-3,
      momentum: 0,
      dampening: 0,
      weightDecay: 0,
      nesterov: false,
      ...options,
    };
  }

  step(name: string, x: Float64Array, grad: Float64Array): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = this.options;
    const g = grad.map((v, i) => v + weightDecay * x[i]);
    let direction: Float64Array = g;
    if (momentum !== 0) {
      let buffer = this.buffers.get(name);
      if (!buffer) {
        buffer = g.slice();
        this.buffers.set(name, buffer);
      } else {
        for (let i = 0; i < g.length; i++) {
          buffer[i] = momentum * buffer[i] + (1 - dampening) * g[i];
        }
      }
      direction = nesterov ? g.map((v, i) => v + momentum * buffer[i]) : buffer;
    }
    for (let i = 0; i < x.length; i++) x[i] -= lr * direction[i];
  }
}

/** Runs 5 steps on the GPU and on the host, comparing values and buffers after every step. */
async function compareWithReference(options: SGDOptions): Promise<void> {
  const rng = new HostRng(17);
  const shapes = [[9, 4], [250], [3, 2, 3, 3]];
  const hosts = shapes.map((shape) => randomF32(rng, shape.reduce((a, b) => a * b, 1)));
  const params = shapes.map((shape, k) =>
    new Parameter(`p${k}`, tensor(Float32Array.from(hosts[k]), shape))
  );
  const sgd = new SGD(options);
  const reference = new ReferenceSGD(options);
  for (let step = 0; step < 5; step++) {
    const hostGrads = hosts.map((h) => randomF32(rng, h.length));
    scope(() =>
      sgd.step(params, params.map((p, k) => tensor(Float32Array.from(hostGrads[k]), p.shape)))
    );
    params.forEach((p, k) => reference.step(p.name, hosts[k], hostGrads[k]));
    const { slots } = sgd.state();
    for (const [k, p] of params.entries()) {
      const what = `${p.name} after step ${step + 1}`;
      assertClose(await p.value.data(), hosts[k], `${what}: value`, 1e-6, 1e-5);
      const buffer = reference.buffers.get(p.name);
      equal(p.name in slots, buffer !== undefined);
      if (buffer) {
        assertClose(
          await slots[p.name].momentumBuffer.data(),
          buffer,
          `${what}: buffer`,
          1e-6,
          1e-5,
        );
      }
    }
  }
  sgd.dispose();
  for (const p of params) p.dispose();
}

Deno.test("SGD matches torch.optim.SGD in float64", async (t) => {
  await t.step("plain", () => compareWithReference({ lr: 0.1 }));
  await t.step("weight decay", () => compareWithReference({ lr: 0.1, weightDecay: 0.05 }));
  await t.step(
    "momentum with dampening and weight decay",
    () => compareWithReference({ lr: 0.05, momentum: 0.9, dampening: 0.2, weightDecay: 0.01 }),
  );
  await t.step(
    "Nesterov momentum",
    () => compareWithReference({ lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01 }),
  );
});

Deno.test("SGD state resumes momentum exactly", async () => {
  const gen = new RandomStream(3);
  const grads = Array.from({ length: 4 }, () => gen.normal([5, 3]));
  const options = { lr: 0.1, momentum: 0.9 };
  const a = new Parameter("w", gen.normal([5, 3]));
  const sgd = new SGD(options);
  for (let k = 0; k < 2; k++) sgd.step([a], [grads[k]]);
  const b = new Parameter("w", tensor(await a.value.data(), a.shape));
  const resumed = new SGD(options);
  resumed.loadState(sgd.state());
  for (let k = 2; k < 4; k++) {
    sgd.step([a], [grads[k]]);
    resumed.step([b], [grads[k]]);
  }
  deepEqual(await b.value.data(), await a.value.data());
  for (const d of [sgd, resumed, a, b, ...grads]) d.dispose();
});

Deno.test("200 SGD steps allocate nothing after the first", async (t) => {
  for (const options of [{ lr: 0.01 }, { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }]) {
    await t.step(`momentum ${options.momentum ?? 0}`, async () => {
      const gen = new RandomStream(4);
      const params = [
        new Parameter("w", gen.normal([64, 32], 0, 0.1)),
        new Parameter("b", gen.normal([64], 0, 0.1)),
      ];
      const input = gen.normal([16, 32]);
      const sgd = new SGD(options);
      const trainStep = () =>
        scope(() => {
          const { grads } = valueAndGrad(
            () => mean(square(linear(input, params[0].value, params[1].value))),
            params.map((p) => p.value),
          );
          sgd.step(params, grads);
        });
      trainStep();
      await sync();
      const buffers = memoryStats().liveBuffers, tensors = liveTensorCount();
      for (let i = 1; i < 200; i++) trainStep();
      await sync();
      equal(memoryStats().liveBuffers, buffers);
      equal(liveTensorCount(), tensors);
      for (const d of [sgd, input, ...params]) d.dispose();
    });
  }
});

Deno.test("SGD rejects bad options and input", () => {
  for (
    const options of [{ lr: -1 }, { momentum: -0.5 }, { dampening: 1 }, { weightDecay: NaN }]
  ) {
    throws(() => new SGD(options), { name: "EngineError", message: /^SGD \w+ must be/ });
  }
  throws(() => new SGD({ nesterov: true }), {
    name: "EngineError",
    message: "SGD nesterov needs momentum > 0 and dampening 0, got momentum 0, dampening 0.",
  });
  const w = new Parameter("w", tensor([1, 2, 3], [3]));
  const sgd = new SGD({ momentum: 0.9 });
  throws(() => sgd.step([w], []), { name: "EngineError", message: /1 parameters and 0 gradients/ });
  ok(Object.keys(sgd.state().slots).length === 0);
  w.dispose();
});
