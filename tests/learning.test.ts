/**
 * End-to-end learning: a small MLP and a small conv net, built from the
 * engine's layers, learn toy two-class problems with Adam. Each test states
 * its loss threshold, checks that the loss starts clearly above it (so the
 * test cannot pass without learning), and checks the accuracy reached.
 *
 * Data come from a seeded host RNG and weights from a seeded RandomStream, so
 * every run sees the same numbers. Each loop reads the loss back only every
 * few steps: a readback waits for the GPU.
 */

import { equal, ok } from "node:assert/strict";
import { valueAndGrad } from "../training/engine/autograd.ts";
import { initEngine } from "../training/engine/engine.ts";
import { Conv2d, type Layer, Linear, parametersOf } from "../training/engine/nn.ts";
import { mul, relu, softplus, tanh } from "../training/engine/ops/elementwise.ts";
import { mean } from "../training/engine/ops/reduce.ts";
import { Adam } from "../training/engine/optim/adam.ts";
import { RandomStream } from "../training/engine/random.ts";
import { HostRng } from "../training/engine/testing/harness.ts";
import { asyncScope, liveTensorCount, type Tensor, tensor } from "../training/engine/tensor.ts";

await initEngine();

/** A two-class data set: inputs and the labels as signs (+1 / -1). */
interface Dataset {
  inputs: Float32Array;
  shape: number[];
  signs: Float32Array;
}

/**
 * Logistic (binary cross-entropy) loss on logits [N, 1], averaged:
 * softplus(-s * logit) for sign s. `negSigns` holds -s.
 */
function logisticLoss(logits: Tensor, negSigns: Tensor): Tensor {
  return mean(softplus(mul(logits, negSigns)));
}

/** Fraction of logits whose sign matches the label's. */
function accuracy(logits: Float32Array, signs: Float32Array): number {
  let right = 0;
  logits.forEach((l, i) => {
    if (l * signs[i] > 0) right++;
  });
  return right / logits.length;
}

interface TrainResult {
  initialLoss: number;
  finalLoss: number;
  /** Losses read every `readEvery` steps (step, loss). */
  trace: [number, number][];
  trainAccuracy: number;
  /** Logits of the model after training for `evalInputs`, if given. */
  evalLogits?: Float32Array;
}

/**
 * Full-batch training of `forward` on `data` with Adam; returns the losses and
 * accuracy. Everything the loop creates is freed: it checks that too.
 */
async function train(
  layers: Layer[],
  forward: (x: Tensor) => Tensor,
  data: Dataset,
  options: { steps: number; lr: number; readEvery: number; evalInputs?: Float32Array },
): Promise<TrainResult> {
  const params = parametersOf(layers);
  const adam = new Adam({ lr: options.lr });
  const x = tensor(data.inputs, data.shape);
  const negSigns = tensor(data.signs.map((s) => -s), [data.signs.length, 1]);
  const lossOf = () => logisticLoss(forward(x), negSigns);
  const before = liveTensorCount();

  const initialLoss = await asyncScope(() => lossOf().item());
  const trace: [number, number][] = [];
  let finalLoss = NaN;
  for (let step = 1; step <= options.steps; step++) {
    const { value, grads } = valueAndGrad(lossOf, params.map((p) => p.value));
    adam.step(params, grads);
    for (const g of grads) g.dispose();
    // The loss read back is that of the parameters before this step's update.
    if (step % options.readEvery === 0 || step === options.steps) {
      finalLoss = await value.item();
      trace.push([step, finalLoss]);
    }
    value.dispose();
  }
  // The loss of the final parameters.
  finalLoss = await asyncScope(() => lossOf().item());
  const trainLogits = await asyncScope(() => forward(x).data());
  const evalLogits = options.evalInputs
    ? await asyncScope(() => forward(tensor(options.evalInputs!, data.shape)).data())
    : undefined;
  // Adam holds two moments per parameter until it is disposed.
  equal(liveTensorCount(), before + 2 * params.length, "only Adam's moments were added");
  adam.dispose();
  equal(liveTensorCount(), before, "the training loop leaves no tensor behind");
  x.dispose();
  negSigns.dispose();
  for (const p of params) p.dispose();
  return {
    initialLoss,
    finalLoss,
    trace,
    trainAccuracy: accuracy(trainLogits, data.signs),
    evalLogits,
  };
}

function describe(result: TrainResult): string {
  const trace = result.trace.map(([s, l]) => `${s}: ${l.toFixed(4)}`).join(", ");
  return `initial loss ${result.initialLoss.toFixed(4)}, final ${
    result.finalLoss.toFixed(4)
  }, accuracy ${(100 * result.trainAccuracy).toFixed(1)}% (losses by step: ${trace})`;
}

// --- MLP: inside or outside a circle -------------------------------------------------------

/** Radius^2 of the circle holding half of the square [-1, 1]^2. */
const CIRCLE_R2 = 2 / Math.PI;

/**
 * `n` points uniform in [-1, 1]^2, labelled +1 inside the circle and -1
 * outside, leaving out a thin band around the boundary so that the problem
 * is separable with a margin.
 */
function circleData(rng: HostRng, n: number): Dataset {
  const inputs = new Float32Array(2 * n), signs = new Float32Array(n);
  for (let i = 0; i < n;) {
    const px = 2 * rng.next() - 1, py = 2 * rng.next() - 1;
    const r2 = px * px + py * py;
    if (Math.abs(r2 - CIRCLE_R2) < 0.05) continue;
    inputs[2 * i] = px;
    inputs[2 * i + 1] = py;
    signs[i] = r2 < CIRCLE_R2 ? 1 : -1;
    i++;
  }
  return { inputs, shape: [n, 2], signs };
}

const MLP_STEPS = 300;
const MLP_THRESHOLD = 0.1;
const MLP_ACCURACY = 0.95;

Deno.test(
  `MLP 2-16-1 (tanh) learns inside/outside a circle with Adam: loss < ${MLP_THRESHOLD} ` +
    `and accuracy >= ${100 * MLP_ACCURACY}% after ${MLP_STEPS} full-batch steps`,
  async () => {
    const data = circleData(new HostRng(2024), 128);
    const positives = data.signs.filter((s) => s > 0).length;
    ok(positives > 40 && positives < 88, `both classes are well represented (${positives}/128)`);
    const gen = new RandomStream(11);
    const fc1 = new Linear("fc1", gen, 2, 16), fc2 = new Linear("fc2", gen, 16, 1);
    const result = await train(
      [fc1, fc2],
      (x) => fc2.forward(tanh(fc1.forward(x))),
      data,
      { steps: MLP_STEPS, lr: 2e-2, readEvery: 50 },
    );
    const summary = describe(result);
    console.log(`MLP: ${summary}`);
    ok(result.initialLoss > 0.5, `the initial loss is far above ${MLP_THRESHOLD}: ${summary}`);
    ok(
      result.finalLoss < MLP_THRESHOLD,
      `loss < ${MLP_THRESHOLD} after ${MLP_STEPS} steps: ${summary}`,
    );
    ok(result.trainAccuracy >= MLP_ACCURACY, `accuracy >= ${MLP_ACCURACY}: ${summary}`);
  },
);

// --- Conv net: horizontal or vertical bars -------------------------------------------------

const SIDE = 8;

/**
 * `n` single-channel SIDE x SIDE images, alternately a horizontal (+1) and a
 * vertical (-1) bar of length 5 at a random position, on uniform noise in
 * [-0.25, 0.25).
 */
function barData(rng: HostRng, n: number): Dataset {
  const inputs = new Float32Array(n * SIDE * SIDE), signs = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const image = inputs.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE);
    for (let k = 0; k < image.length; k++) image[k] = 0.5 * rng.next() - 0.25;
    const horizontal = i % 2 === 0;
    const line = rng.int(0, SIDE - 1), start = rng.int(0, SIDE - 5);
    for (let j = start; j < start + 5; j++) {
      image[horizontal ? line * SIDE + j : j * SIDE + line] += 1;
    }
    signs[i] = horizontal ? 1 : -1;
  }
  return { inputs, shape: [n, 1, SIDE, SIDE], signs };
}

const CONV_STEPS = 150;
const CONV_THRESHOLD = 0.05;
const CONV_ACCURACY = 0.95;
/** On 64 images the net never saw (looser: it was fitted to 64 others). */
const CONV_UNSEEN_ACCURACY = 0.9;

Deno.test(
  `conv net (conv 3x3 -> relu -> conv 4x4 s2 -> relu -> mean -> linear) learns horizontal ` +
    `vs vertical bars with Adam: loss < ${CONV_THRESHOLD} and accuracy >= ` +
    `${100 * CONV_ACCURACY}% after ${CONV_STEPS} steps (>= ${
      100 * CONV_UNSEEN_ACCURACY
    }% on unseen images)`,
  async () => {
    const rng = new HostRng(7);
    const data = barData(rng, 64);
    const unseen = barData(rng, 64);
    const gen = new RandomStream(3);
    // He-like init (the layers default to DCGAN's N(0, 0.02)).
    const c1 = new Conv2d("c1", gen, 1, 4, 3, { padding: 1, bias: true, std: 0.4 });
    const c2 = new Conv2d("c2", gen, 4, 8, 4, { stride: 2, padding: 1, bias: true, std: 0.15 });
    const fc = new Linear("fc", gen, 8, 1);
    const forward = (x: Tensor) => fc.forward(mean(relu(c2.forward(relu(c1.forward(x)))), [2, 3]));
    const result = await train([c1, c2, fc], forward, data, {
      steps: CONV_STEPS,
      lr: 1e-2,
      readEvery: 25,
      evalInputs: unseen.inputs,
    });
    const unseenAccuracy = accuracy(result.evalLogits!, unseen.signs);
    const summary = `${describe(result)}, unseen accuracy ${(100 * unseenAccuracy).toFixed(1)}%`;
    console.log(`conv net: ${summary}`);
    ok(result.initialLoss > 0.5, `the initial loss is far above ${CONV_THRESHOLD}: ${summary}`);
    ok(
      result.finalLoss < CONV_THRESHOLD,
      `loss < ${CONV_THRESHOLD} after ${CONV_STEPS} steps: ${summary}`,
    );
    ok(result.trainAccuracy >= CONV_ACCURACY, `accuracy >= ${CONV_ACCURACY}: ${summary}`);
    ok(
      unseenAccuracy >= CONV_UNSEEN_ACCURACY,
      `unseen accuracy >= ${CONV_UNSEEN_ACCURACY}: ${summary}`,
    );
  },
);
