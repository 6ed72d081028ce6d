/**
 * A small per-pixel part classifier for the synthetic faces: generated
 * images carry no part masks, so evaluation labels them with a network
 * trained on the synthetic set's ground truth. Four 3x3 convolutions (a
 * 9x9 receptive field, enough to tell an eye from a mouth of one colour by
 * where it sits) and a 1x1 classifier; softmax cross-entropy; Adam.
 *
 * @module
 */

import { valueAndGrad } from "../engine/autograd.ts";
import { Conv2d, type Layer, parametersOf } from "../engine/nn.ts";
import { exp, log, mul, relu, sub } from "../engine/ops/elementwise.ts";
import { mean, sum } from "../engine/ops/reduce.ts";
import { Adam } from "../engine/optim/adam.ts";
import type { Parameter } from "../engine/optim/parameter.ts";
import { RandomStream } from "../engine/random.ts";
import { asyncScope, type Tensor, tensor } from "../engine/tensor.ts";
import type { ImageSet } from "../data/image_set.ts";
import { batchPixels, BatchSampler } from "../data/sampler.ts";
import { syntheticFaces } from "../data/synthetic.ts";
import type { TrainConfig } from "../config.ts";

/** images [B, 3, S, S] in [-1, 1] -> part logits [B, P, S, S]. */
export class PartSegmenter implements Layer {
  readonly parts: readonly string[];
  readonly #convs: Conv2d[];

  constructor(gen: RandomStream, parts: readonly string[], width = 16) {
    this.parts = parts;
    const channels = [3, width, width, width, width];
    this.#convs = channels.slice(0, -1).map((c, k) =>
      new Conv2d(`conv${k}`, gen, c, channels[k + 1], 3, {
        padding: 1,
        bias: true,
        std: Math.sqrt(2 / (9 * c)),
      })
    );
    this.#convs.push(
      new Conv2d("classifier", gen, width, parts.length, 1, { bias: true, std: 0.05 }),
    );
  }

  forward(x: Tensor): Tensor {
    let h = x;
    this.#convs.slice(0, -1).forEach((conv) => (h = relu(conv.forward(h))));
    return this.#convs[this.#convs.length - 1].forward(h);
  }

  /** The most likely part of each pixel, [B, S, S]. */
  async predict(images: Tensor): Promise<Uint8Array> {
    const [b, , s] = images.shape;
    const p = this.parts.length;
    const logits = await asyncScope(() => this.forward(images).data());
    const out = new Uint8Array(b * s * s);
    for (let n = 0; n < b; n++) {
      for (let q = 0; q < s * s; q++) {
        let best = 0;
        for (let c = 1; c < p; c++) {
          if (logits[(n * p + c) * s * s + q] > logits[(n * p + best) * s * s + q]) best = c;
        }
        out[n * s * s + q] = best;
      }
    }
    return out;
  }

  parameters(): Parameter[] {
    return parametersOf(this.#convs);
  }

  dispose(): void {
    for (const conv of this.#convs) conv.dispose();
  }
}

/** Mean softmax cross-entropy of logits [B, P, S, S] against one-hot targets of the same shape. */
export function crossEntropy(logits: Tensor, oneHot: Tensor): Tensor {
  // Logits of this small net stay far below exp's f32 range, so no max shift is needed.
  const logSumExp = log(sum(exp(logits), 1, true));
  return mean(sum(mul(sub(logSumExp, logits), oneHot), 1));
}

/** One-hot targets [B, P, S, S] of part masks for the images `indices` of `set`. */
function oneHot(set: ImageSet, indices: number[], parts: number): Float32Array {
  const plane = set.resolution ** 2;
  const out = new Float32Array(indices.length * parts * plane);
  indices.forEach((index, b) => {
    for (let q = 0; q < plane; q++) {
      out[(b * parts + set.masks![index * plane + q]) * plane + q] = 1;
    }
  });
  return out;
}

/** Trains a segmenter on a set with part masks; returns it and its last loss. */
export async function trainSegmenter(
  set: ImageSet,
  options: { steps?: number; batch?: number; seed?: number } = {},
): Promise<{ segmenter: PartSegmenter; loss: number }> {
  if (!set.masks || !set.parts) throw new RangeError("the segmenter needs a set with part masks.");
  const { steps = 300, batch = 16, seed = 0 } = options;
  const segmenter = new PartSegmenter(new RandomStream(seed), set.parts);
  const optimizer = new Adam({ lr: 3e-3 });
  const sampler = new BatchSampler(set.count, {
    flip: false,
    state: { seed, epoch: 0, cursor: 0 },
  });
  const s = set.resolution, p = set.parts.length;
  let loss = NaN;
  try {
    for (let step = 1; step <= steps; step++) {
      const selection = sampler.next(batch);
      const value = await asyncScope(async () => {
        const x = tensor(batchPixels(set, selection), [batch, 3, s, s]);
        const y = tensor(oneHot(set, selection.indices, p), [batch, p, s, s]);
        const params = segmenter.parameters();
        const { value, grads } = valueAndGrad(
          () => crossEntropy(segmenter.forward(x), y),
          params.map((q) => q.value),
        );
        optimizer.step(params, grads);
        return step % 50 === 0 || step === steps ? await value.item() : NaN;
      });
      if (!Number.isNaN(value)) loss = value;
    }
  } finally {
    optimizer.dispose();
  }
  return { segmenter, loss };
}

/**
 * The part segmenter a run's concept metrics use: trained on 1,024 synthetic
 * faces of the run's size and seed for runs on the synthetic faces, none for
 * other data (whose parts are unknown).
 */
export async function segmenterForRun(
  config: TrainConfig,
): Promise<{ segmenter: PartSegmenter; loss: number } | null> {
  if (config.data.kind !== "synthetic") return null;
  const set = syntheticFaces({
    count: 1024,
    resolution: config.network.resolution,
    seed: config.data.seed,
  });
  return await trainSegmenter(set, { steps: 300 });
}
