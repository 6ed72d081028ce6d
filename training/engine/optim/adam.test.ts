import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { valueAndGrad } from "../autograd.ts";
import { backend, initEngine, memoryStats, sync } from "../engine.ts";
import { mul, square, sub } from "../ops/elementwise.ts";
import { linear } from "../ops/matmul.ts";
import { mean } from "../ops/reduce.ts";
import { RandomStream } from "../random.ts";
import { assertClose, HostRng, randomF32 } from "../testing/harness.ts";
import { asyncScope, liveTensorCount, scope, type Tensor, tensor } from "../tensor.ts";
import { Adam, type AdamOptions } from "./adam.ts";
import { Parameter } from "./parameter.ts";

await initEngine();

/** Float64 host Adam, transcribed from torch.optim.Adam's single-tensor path. */
class ReferenceAdam {
  readonly slots = new Map<string, { step: number; m: Float64Array; v: Float64Array }>();
  lr: number;
  readonly options: Required<AdamOptions>;

  constructor(options: Required<AdamOptions>) {
    this.options = options;
    this.lr = options.lr;
  }

  step(name: string, x: Float64Array, grad: Float64Array): void {
    const { beta1, beta2, eps, weightDecay } = this.options;
    let slot = this.slots.get(name);
    if (!slot) {
      slot = { step: 0, m: new Float64Array(x.length), v: new Float64Array(x.length) };
      this.slots.set(name, slot);
    }
    slot.step++;
    const correction1 = 1 - beta1 ** slot.step, correction2 = 1 - beta2 ** slot.step;
    for (let i = 0; i < x.length; i++) {
      const g = grad[i] + weightDecay * x[i];
      slot.m[i] = beta1 * slot.m[i] + (1 - beta1) * g;
      slot.v[i] = beta2 * slot.v[i] + (1 - beta2) * g * g;
      const denom = Math.sqrt(slot.v[i]) / Math.sqrt(correction2) + eps;
      x[i] -= (this.lr / correction1) * slot.m[i] / denom;
    }
  }
}

const DEFAULTS: Required<AdamOptions> = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
};

function makeParameter(rng: HostRng, name: string, shape: number[]) {
  const host = randomF32(rng, shape.reduce((a, b) => a * b, 1));
  return { param: new Parameter(name, tensor(Float32Array.from(host), shape)), host };
}

interface Scenario {
  options: AdamOptions;
  steps: number;
  /** Learning rate before each step (a schedule), when given. */
  lrAt?: (step: number) => number;
  /** First step at which each parameter takes part (default 0). */
  joinsAt?: number[];
}

/** Runs `scenario` on the GPU and on the host, comparing values and moments after every step. */
async function compareWithReference(scenario: Scenario): Promise<void> {
  const rng = new HostRng(31);
  const shapes = [[7, 5], [300], [2, 3, 4, 4]];
  const parts = shapes.map((shape, k) => makeParameter(rng, `p${k}`, shape));
  const adam = new Adam(scenario.options);
  const reference = new ReferenceAdam({ ...DEFAULTS, ...scenario.options });
  for (let step = 0; step < scenario.steps; step++) {
    if (scenario.lrAt) adam.lr = reference.lr = scenario.lrAt(step);
    const active = parts.filter((_, k) => step >= (scenario.joinsAt?.[k] ?? 0));
    const hostGrads = active.map(({ host }) => randomF32(rng, host.length));
    scope(() => {
      const grads = active.map(({ param }, k) =>
        tensor(Float32Array.from(hostGrads[k]), param.shape)
      );
      adam.step(active.map(({ param }) => param), grads);
    });
    active.forEach(({ param, host }, k) => reference.step(param.name, host, hostGrads[k]));
    const { slots } = adam.state();
    for (const { param, host } of active) {
      const what = `${param.name} after step ${step + 1}`;
      const expected = reference.slots.get(param.name)!;
      equal(slots[param.name].step, expected.step);
      assertClose(await param.value.data(), host, `${what}: value`, 1e-6, 1e-5);
      assertClose(await slots[param.name].m.data(), expected.m, `${what}: m`, 1e-7, 1e-5);
      assertClose(await slots[param.name].v.data(), expected.v, `${what}: v`, 1e-9, 1e-5);
    }
  }
  adam.dispose();
  for (const { param } of parts) param.dispose();
}

Deno.test("Adam matches torch.optim.Adam in float64", async (t) => {
  await t.step("default options", () => compareWithReference({ options: {}, steps: 6 }));
  await t.step("weight decay, custom betas and eps, lr 0.01", () =>
    compareWithReference({
      options: { lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.05 },
      steps: 6,
    }));
  await t.step(
    "a learning-rate schedule",
    () => compareWithReference({ options: { lr: 0.02 }, steps: 5, lrAt: (s) => 0.02 * 0.5 ** s }),
  );
  await t.step(
    "parameters joining late keep their own step count",
    () => compareWithReference({ options: { lr: 0.01 }, steps: 5, joinsAt: [0, 2, 4] }),
  );
});

Deno.test("Adam minimises a quadratic", async () => {
  const gen = new RandomStream(5);
  const x = new Parameter("x", gen.normal([256], 0, 2));
  const target = gen.normal([256]);
  const scale = gen.uniform([256], 0.5, 2); // unequal curvatures
  const loss = (v: Tensor) => mean(mul(scale, square(sub(v, target))));
  const adam = new Adam({ lr: 0.05 });
  const initial = await asyncScope(() => loss(x.value).item());
  for (let i = 0; i < 300; i++) {
    scope(() => {
      const { grads } = valueAndGrad(() => loss(x.value), [x.value]);
      adam.step([x], grads);
    });
  }
  const final = await asyncScope(() => loss(x.value).item());
  ok(initial > 3, `initial loss ${initial}`);
  ok(final < 1e-3, `loss after 300 steps: ${final} (from ${initial})`);
  for (const t of [x, target, scale, adam]) t.dispose();
});

Deno.test("exported state resumes training exactly, through the host too", async () => {
  const rng = new HostRng(8);
  const options = { lr: 0.01, weightDecay: 0.01 };
  const original = [makeParameter(rng, "w", [6, 4]), makeParameter(rng, "b", [6])];
  const gradSteps = Array.from(
    { length: 5 },
    () => original.map(({ host }) => randomF32(rng, host.length)),
  );
  const step = (adam: Adam, params: Parameter[], k: number) =>
    scope(() =>
      adam.step(params, params.map((p, i) => tensor(Float32Array.from(gradSteps[k][i]), p.shape)))
    );

  const adam = new Adam(options);
  const params = original.map(({ param }) => param);
  for (let k = 0; k < 3; k++) step(adam, params, k);

  // Checkpoint: values and moments to the host, and back into fresh objects.
  const saved = adam.state();
  const hostSlots = await Promise.all(
    Object.entries(saved.slots).map(async ([name, slot]) => ({
      name,
      step: slot.step,
      m: await slot.m.data(),
      v: await slot.v.data(),
    })),
  );
  const restoredParams = await Promise.all(
    params.map(async (p) => new Parameter(p.name, tensor(await p.value.data(), p.shape))),
  );
  const restored = new Adam(options);
  scope(() =>
    restored.loadState({
      slots: Object.fromEntries(hostSlots.map(({ name, step, m, v }) => {
        const shape = params.find((p) => p.name === name)!.shape;
        return [name, { step, m: tensor(m, shape), v: tensor(v, shape) }];
      })),
    })
  ); // the scope disposes the uploaded tensors: loadState copied them

  for (let k = 3; k < 5; k++) {
    step(adam, params, k);
    step(restored, restoredParams, k);
  }
  for (let i = 0; i < params.length; i++) {
    deepEqual(await restoredParams[i].value.data(), await params[i].value.data());
  }
  // Loading an optimiser's own state is a no-op.
  const before = await adam.state().slots.w.m.data();
  adam.loadState(adam.state());
  deepEqual(await adam.state().slots.w.m.data(), before);
  for (const d of [adam, restored, ...params, ...restoredParams]) d.dispose();
});

Deno.test("200 steps allocate nothing after the first and compile no new kernels", async () => {
  const gen = new RandomStream(9);
  const params = [
    new Parameter("w", gen.normal([64, 32], 0, 0.1)),
    new Parameter("b", gen.normal([64], 0, 0.1)),
  ];
  const input = gen.normal([16, 32]);
  const adam = new Adam({ lr: 0.01, weightDecay: 1e-4 });
  const trainStep = (lr: number) =>
    scope(() => {
      const { grads } = valueAndGrad(
        () => mean(square(linear(input, params[0].value, params[1].value))),
        params.map((p) => p.value),
      );
      adam.lr = lr;
      adam.step(params, grads);
    });
  trainStep(0.01);
  await sync();
  const buffers = memoryStats().liveBuffers, tensors = liveTensorCount();
  const kernels = backend().kernelCount;
  for (let i = 1; i < 200; i++) trainStep(0.01 / (1 + i)); // the schedule is a uniform
  await sync();
  equal(memoryStats().liveBuffers, buffers);
  equal(liveTensorCount(), tensors);
  equal(backend().kernelCount, kernels);
  equal(adam.state().slots.w.step, 200);
  for (const d of [adam, input, ...params]) d.dispose();
});

Deno.test("Adam rejects bad input with what to do", () => {
  const w = new Parameter("w", tensor([1, 2, 3, 4], [2, 2]));
  const b = new Parameter("b", tensor([1, 2], [2]));
  const adam = new Adam();
  const grad = tensor([0.1, 0.2, 0.3, 0.4], [2, 2]);
  throws(() => adam.step([], []), {
    name: "EngineError",
    message: "Adam.step got no parameters; pass the model's parameters and their gradients.",
  });
  throws(() => adam.step([w, b], [grad]), {
    name: "EngineError",
    message: "Adam.step got 2 parameters and 1 gradients; pass one gradient per parameter, " +
      "in the same order.",
  });
  throws(() => adam.step([b], [grad]), {
    name: "ShapeError",
    message: 'Adam.step: the gradient of "b" has shape [2, 2], the parameter [2].',
  });
  const dead = tensor([0, 0], [2]);
  dead.dispose();
  throws(() => adam.step([w, b], [grad, dead]), {
    name: "DisposedTensorError",
    message: 'Adam.step: the gradient of "b" was disposed; keep parameters and gradients ' +
      "alive until the step.",
  });
  const twin = new Parameter("w", tensor([0, 0, 0, 0], [2, 2]));
  throws(() => adam.step([w, twin], [grad, grad]), {
    name: "EngineError",
    message: /two parameters named "w"/,
  });
  for (
    const options of [{ lr: -1 }, { beta1: 1 }, { beta2: -0.1 }, { eps: NaN }, {
      weightDecay: Infinity,
    }]
  ) {
    throws(() => new Adam(options), { name: "EngineError", message: /^Adam \w+ must be/ });
  }
  throws(() => (adam.lr = -0.1), {
    name: "EngineError",
    message: "Adam lr must be a finite number >= 0, got -0.1.",
  });
  // State of another model: caught before any parameter changes.
  const other = new Adam();
  const otherW = new Parameter("w", tensor([1, 2, 3], [3]));
  scope(() => other.step([otherW], [tensor([1, 1, 1], [3])]));
  adam.loadState(other.state());
  throws(() => adam.step([w], [grad]), { name: "ShapeError", message: /belongs to another model/ });
  throws(() => adam.loadState({ slots: { w: { ...other.state().slots.w, step: 0 } } }), {
    name: "EngineError",
    message: 'Adam state of "w" has step 0; it must be an integer >= 1.',
  });
  throws(() => w.replace(tensor([1, 2], [2])), { name: "ShapeError" });
  for (const d of [adam, other, w, b, twin, otherW, grad]) d.dispose();
});
