import { equal, ok, throws } from "node:assert/strict";
import { valueAndGrad } from "../autograd.ts";
import { backend, initEngine } from "../engine.ts";
import { DisposedTensorError, ShapeError } from "../errors.ts";
import {
  assertClose,
  checkOp,
  HostRng,
  type HostTensor,
  roundToF32,
  upload,
} from "../testing/harness.ts";
import {
  batchNorm2dRef,
  type HostRunningStatistics,
  runningStatisticsRef,
} from "../testing/reference_norm.ts";
import { asyncScope, liveTensorCount, scope, type Tensor, tensor, zeros } from "../tensor.ts";
import { mul } from "./elementwise.ts";
import { sum } from "./reduce.ts";
import { batchNorm2d, BatchNormState } from "./batchnorm.ts";

await initEngine();

function randomRunning(rng: HostRng, channels: number): HostRunningStatistics {
  return {
    mean: roundToF32(rng.uniform([channels], -0.5, 0.5).data),
    variance: roundToF32(rng.uniform([channels], 0.5, 2).data),
  };
}

/** A state holding `running`. */
function stateHolding(running: HostRunningStatistics): BatchNormState {
  const state = new BatchNormState(running.mean.length);
  state.replace(
    tensor(Float32Array.from(running.mean)),
    tensor(Float32Array.from(running.variance)),
  );
  return state;
}

function affineParameters(rng: HostRng, channels: number): [HostTensor, HostTensor] {
  return [rng.uniform([channels], 0.5, 1.5), rng.uniform([channels], -1, 1)];
}

/**
 * llvmpipe agrees with float64 to about 1e-6 here; the margin is for GPUs
 * whose inverseSqrt is approximate.
 */
const TOLERANCE = 1e-4;

const SHAPES: number[][] = [
  [3, 5, 7, 9], // odd sizes everywhere
  [2, 1, 6, 5], // one channel
  [4, 3, 1, 1], // one pixel: statistics over the batch only
  [8, 3, 16, 16], // long per-channel reductions, split into partial sums
];

Deno.test("batchNorm2d in training mode matches float64, with gradients of x, gamma, beta", async (t) => {
  const rng = new HostRng(31);
  for (const shape of SHAPES) {
    await t.step(`[${shape}]`, async () => {
      const channels = shape[1];
      // An offset mean checks that the variance is taken around the mean.
      const x = rng.uniform(shape, -1, 3);
      const [gamma, beta] = affineParameters(rng, channels);
      const state = new BatchNormState(channels);
      try {
        await checkOp({
          name: `batchNorm2d training [${shape}]`,
          inputs: [x, gamma, beta],
          gpu: ([v, g, b]) => batchNorm2d(v, g, b, state, { training: true }),
          reference: ([v, g, b]) => batchNorm2dRef(v, g, b, 1e-5),
          atol: TOLERANCE,
          rtol: TOLERANCE,
        });
      } finally {
        state.dispose();
      }
    });
  }
});

Deno.test("batchNorm2d's variance holds for a mean far from zero against the deviation", async () => {
  // Values 1000 +- 0.5: E[x^2] - E[x]^2 in f32 would lose the variance (about 1e6 against 0.08).
  const rng = new HostRng(36);
  const shape = [8, 3, 16, 16];
  const x = rng.uniform(shape, 999.5, 1000.5);
  const [gamma, beta] = affineParameters(rng, 3);
  const state = new BatchNormState(3);
  try {
    await checkOp({
      name: "batchNorm2d training, offset 1000",
      inputs: [x, gamma, beta],
      gpu: ([v, g, b]) => batchNorm2d(v, g, b, state, { training: true }),
      reference: ([v, g, b]) => batchNorm2dRef(v, g, b, 1e-5),
      atol: 1e-3,
      rtol: 1e-3,
    });
  } finally {
    state.dispose();
  }
});

Deno.test("batchNorm2d in inference mode uses the running statistics, with gradients", async (t) => {
  const rng = new HostRng(32);
  const cases: [number[], number][] = [...SHAPES.map((s): [number[], number] => [s, 1e-5]), [
    [1, 2, 1, 1], // one value per channel is fine without batch statistics
    1e-3,
  ]];
  for (const [shape, eps] of cases) {
    await t.step(`[${shape}] eps ${eps}`, async () => {
      const channels = shape[1];
      const running = randomRunning(rng, channels);
      const [gamma, beta] = affineParameters(rng, channels);
      const state = stateHolding(running);
      try {
        await checkOp({
          name: `batchNorm2d inference [${shape}]`,
          inputs: [rng.uniform(shape, -1, 3), gamma, beta],
          gpu: ([v, g, b]) => batchNorm2d(v, g, b, state, { training: false, eps }),
          reference: ([v, g, b]) => batchNorm2dRef(v, g, b, eps, running),
          atol: TOLERANCE,
          rtol: TOLERANCE,
        });
      } finally {
        state.dispose();
      }
    });
  }
});

Deno.test("a fused leaky ReLU or ReLU matches the activation of float64's normalisation, with gradients", async (t) => {
  const rng = new HostRng(35);
  const leaky = (v: HostTensor, slope: number): HostTensor => ({
    shape: v.shape,
    data: v.data.map((e) => e > 0 ? e : slope * e),
  });
  for (const training of [true, false]) {
    for (const slope of [0.2, 0]) {
      await t.step(`training ${training}, slope ${slope}`, async () => {
        const shape = [4, 3, 5, 6], channels = 3;
        const running = randomRunning(rng, channels);
        const [gamma, beta] = affineParameters(rng, channels);
        const state = stateHolding(running);
        try {
          await checkOp({
            name: `batchNorm2d + leaky ${slope} (training ${training})`,
            inputs: [rng.uniform(shape, -1, 3), gamma, beta],
            gpu: ([v, g, b]) =>
              batchNorm2d(v, g, b, state, { training, momentum: 0, leakySlope: slope }),
            reference: ([v, g, b]) =>
              leaky(batchNorm2dRef(v, g, b, 1e-5, training ? undefined : running), slope),
            atol: TOLERANCE,
            rtol: TOLERANCE,
          });
        } finally {
          state.dispose();
        }
      });
    }
  }
  const state = new BatchNormState(1);
  const before = state.runningMean;
  throws(
    () =>
      batchNorm2d(zeros([2, 1, 1, 1]), zeros([1]), zeros([1]), state, {
        training: true,
        leakySlope: -0.1,
      }),
    /leakySlope must be a finite number >= 0/,
  );
  equal(state.runningMean, before, "a refused call leaves the running statistics as they were");
  state.dispose();
});

async function assertRunning(
  state: BatchNormState,
  expected: HostRunningStatistics,
  what: string,
): Promise<void> {
  assertClose(await state.runningMean.data(), expected.mean, `${what}: running mean`, 1e-5, 1e-5);
  assertClose(
    await state.runningVar.data(),
    expected.variance,
    `${what}: running variance`,
    1e-5,
    1e-5,
  );
}

Deno.test("training updates the running statistics as PyTorch does, outside scopes and tapes", async () => {
  const rng = new HostRng(33);
  const shape = [3, 5, 7, 9];
  const [gammaHost, betaHost] = affineParameters(rng, 5);
  const first = rng.uniform(shape, -1, 3), second = rng.uniform(shape, 2, 4);
  const gamma = upload(gammaHost), beta = upload(betaHost);
  const initial = randomRunning(rng, 5);
  const state = stateHolding(initial);
  try {
    const replaced = state.runningMean;
    scope(() => {
      batchNorm2d(upload(first), gamma, beta, state, { training: true, momentum: 0.3 });
    });
    ok(replaced.disposed, "the previous running mean is disposed");
    const afterFirst = runningStatisticsRef(initial, first, 0.3);
    await assertRunning(state, afterFirst, "first step (momentum 0.3)");

    // Under a tape with x tracked: the update must neither be recorded nor die with the tape.
    const x = upload(second);
    const { value, grads } = valueAndGrad(
      () => sum(batchNorm2d(x, gamma, beta, state, { training: true })),
      [x],
    );
    await assertRunning(state, runningStatisticsRef(afterFirst, second, 0.1), "second step");
    for (const t of [x, value, ...grads]) t.dispose();

    const held = state.runningMean;
    scope(() => batchNorm2d(upload(first), gamma, beta, state, { training: false }));
    equal(state.runningMean, held, "inference keeps the running statistics");
  } finally {
    state.dispose();
    gamma.dispose();
    beta.dispose();
  }
});

Deno.test("an inference backward survives a training update of the same state", async () => {
  const rng = new HostRng(34);
  const shape = [2, 3, 4, 5];
  const running = randomRunning(rng, 3);
  const [gammaHost, betaHost] = affineParameters(rng, 3);
  const state = stateHolding(running);
  await asyncScope(async () => {
    const x = upload(rng.uniform(shape)), gamma = upload(gammaHost), beta = upload(betaHost);
    const { grads: [dx] } = valueAndGrad(() => {
      const y = batchNorm2d(x, gamma, beta, state, { training: false });
      batchNorm2d(x, gamma, beta, state, { training: true }); // replaces the running tensors
      return sum(y);
    }, [x]);
    const expected = new Float64Array(dx.size);
    for (let i = 0; i < expected.length; i++) {
      const c = Math.floor(i / 20) % 3;
      expected[i] = gammaHost.data[c] / Math.sqrt(running.variance[c] + 1e-5);
    }
    assertClose(await dx.data(), expected, "inference dx", 1e-5, 1e-5);
  });
  state.dispose();
});

Deno.test("batchNorm2d leaks no tensors and uses few kernels", async () => {
  const rng = new HostRng(35);
  const runtime = backend();
  // 32 values per channel: no reduction is split into partial sums.
  const shape = [2, 64, 4, 4];
  const state = new BatchNormState(64);
  const live = liveTensorCount();
  await asyncScope(async () => {
    const x = upload(rng.uniform(shape));
    const gamma = upload(rng.uniform([64])), beta = upload(rng.uniform([64]));
    const before = runtime.dispatchCount;
    batchNorm2d(x, gamma, beta, state, { training: true });
    equal(
      runtime.dispatchCount - before,
      2,
      "moments with 1/sigma and running averages, normalise",
    );
    const between = runtime.dispatchCount;
    batchNorm2d(x, gamma, beta, state, { training: false });
    equal(runtime.dispatchCount - between, 2, "1/sigma, normalise");
    const r = upload(rng.uniform(shape));
    const { grads } = valueAndGrad(
      () => sum(mul(batchNorm2d(x, gamma, beta, state, { training: true }), r)),
      [x, gamma, beta],
    );
    for (const g of grads) ok((await g.data()).every(Number.isFinite));
  });
  equal(liveTensorCount(), live, "every temporary is disposed; the state holds two tensors");
  state.dispose();
  equal(liveTensorCount(), live - 2);
});

Deno.test("batchNorm2d rejects bad shapes with typed errors", () => {
  scope(() => {
    const state = new BatchNormState(3);
    const x = zeros([2, 3, 4, 4]), gamma = zeros([3]), beta = zeros([3]);
    const cases: [string, () => Tensor | void, RegExp][] = [
      [
        "rank 3 input",
        () => batchNorm2d(zeros([3, 4, 4]), gamma, beta, state, { training: true }),
        /needs an NCHW input of rank 4, got \[3, 4, 4\]/,
      ],
      [
        "gamma of another size",
        () => batchNorm2d(x, zeros([4]), beta, state, { training: true }),
        /gamma has shape \[4\], expected \[3\]/,
      ],
      [
        "beta of rank 2",
        () => batchNorm2d(x, gamma, zeros([1, 3]), state, { training: false }),
        /beta has shape \[1, 3\], expected \[3\]/,
      ],
      [
        "state of another size",
        () => batchNorm2d(zeros([2, 5, 4, 4]), zeros([5]), zeros([5]), state, { training: true }),
        /running statistics have 3 channels, input \[2, 5, 4, 4\] has 5/,
      ],
      [
        "one value per channel in training",
        () => batchNorm2d(zeros([1, 3, 1, 1]), gamma, beta, state, { training: true }),
        /more than one value per channel \(N \* H \* W = 1/,
      ],
      [
        "replace with another size",
        () => state.replace(zeros([2]), zeros([3])),
        /running mean has shape \[2\], expected \[3\]/,
      ],
      ["zero channels", () => new BatchNormState(0).dispose(), /positive integer channel count/],
    ];
    for (const [what, fn, message] of cases) {
      throws(fn, (e) => e instanceof ShapeError && message.test(e.message), what);
    }
    state.dispose();
    throws(() => state.runningMean, DisposedTensorError);
  });
});
