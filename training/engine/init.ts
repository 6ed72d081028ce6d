/**
 * Weight initialisers with PyTorch's formulas (`torch.nn.init`). Each returns
 * a new tensor in the caller's scope, drawn from a {@link RandomStream} so that
 * initialisation is reproducible from a seed. Constant initialisers are
 * `zeros`, `ones` and `full` from tensor.ts.
 *
 * Fans follow `torch.nn.init._calculate_fan_in_and_fan_out`: for a weight of
 * shape `[a, b, ...kernel]`, fan-in is `b * prod(kernel)` and fan-out is
 * `a * prod(kernel)`. That is right for Linear `[out, in]` and Conv2d
 * `[out, in, kh, kw]` weights. For ConvTranspose2d weights `[in, out, kh, kw]`
 * PyTorch applies the same rule, so "fan-in" is really `out * kh * kw`; the
 * default here reproduces PyTorch, and `fanIn` / `fanOut` options override it
 * when the true fans are wanted.
 *
 * @module
 */

import { EngineError, ShapeError } from "./errors.ts";
import type { RandomStream } from "./random.ts";
import type { Shape, Tensor } from "./tensor.ts";

/** Fan-in and fan-out of a weight. */
export interface Fans {
  /** Inputs feeding each output unit (the variance-preserving scale of the forward pass). */
  fanIn: number;
  /** Outputs each input unit feeds (the scale of the backward pass). */
  fanOut: number;
}

/** Fans to use instead of those computed from the shape. */
export type FanOverride = Partial<Fans>;

/** Options of {@link kaimingNormal}. */
export interface KaimingOptions extends FanOverride {
  /** Negative slope of the leaky ReLU that follows the layer (0 for ReLU). */
  negativeSlope?: number;
  /** Preserve the variance of activations (`fan_in`) or of gradients (`fan_out`). */
  mode?: "fan_in" | "fan_out";
}

/** PyTorch's fans of a weight of `shape` (at least two dimensions). */
export function computeFans(shape: Shape): Fans {
  if (shape.length < 2) {
    throw new ShapeError(
      `Cannot compute fans of a weight of shape [${shape.join(", ")}]: it needs at least ` +
        "2 dimensions ([out, in, ...kernel]); pass fanIn and fanOut explicitly.",
    );
  }
  const receptive = shape.slice(2).reduce((a, d) => a * d, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** One fan of a weight: the override if given, else PyTorch's rule on the shape. */
function fanOf(shape: Shape, override: FanOverride, which: keyof Fans): number {
  const fan = override[which] ?? computeFans(shape)[which];
  if (!Number.isFinite(fan) || fan <= 0) {
    throw new ShapeError(
      `${which} of a weight of shape [${shape.join(", ")}] is ${fan}; it must be > 0 ` +
        `(pass ${which} explicitly for unusual layouts).`,
    );
  }
  return fan;
}

/** Normal(mean, std^2) values of `shape`. */
export function normalInit(gen: RandomStream, shape: Shape, std: number, mean = 0): Tensor {
  return gen.normal(shape, mean, std);
}

/** Values uniform in [-bound, bound) of `shape`. */
export function uniformInit(gen: RandomStream, shape: Shape, bound: number): Tensor {
  if (!(bound > 0) || !Number.isFinite(bound)) {
    throw new EngineError(`uniformInit needs a finite bound > 0, got ${bound}.`);
  }
  return gen.uniform(shape, -bound, bound);
}

/**
 * Glorot/Xavier uniform (`torch.nn.init.xavier_uniform_`): U(-b, b) with
 * b = gain * sqrt(6 / (fanIn + fanOut)).
 */
export function xavierUniform(
  gen: RandomStream,
  shape: Shape,
  gain = 1,
  fans: FanOverride = {},
): Tensor {
  if (!(gain > 0) || !Number.isFinite(gain)) {
    throw new EngineError(`xavierUniform needs a finite gain > 0, got ${gain}.`);
  }
  const fanSum = fanOf(shape, fans, "fanIn") + fanOf(shape, fans, "fanOut");
  const bound = gain * Math.sqrt(6 / fanSum);
  return gen.uniform(shape, -bound, bound);
}

/**
 * He/Kaiming normal (`torch.nn.init.kaiming_normal_` with
 * `nonlinearity="leaky_relu"`): N(0, std^2) with
 * std = sqrt(2 / (1 + negativeSlope^2)) / sqrt(fan), fan chosen by `mode`.
 */
export function kaimingNormal(
  gen: RandomStream,
  shape: Shape,
  options: KaimingOptions = {},
): Tensor {
  const { negativeSlope = 0, mode = "fan_in", ...override } = options;
  if (!Number.isFinite(negativeSlope)) {
    throw new EngineError(`kaimingNormal needs a finite negativeSlope, got ${negativeSlope}.`);
  }
  if (mode !== "fan_in" && mode !== "fan_out") {
    throw new EngineError(`kaimingNormal mode must be "fan_in" or "fan_out", got "${mode}".`);
  }
  const fan = fanOf(shape, override, mode === "fan_in" ? "fanIn" : "fanOut");
  const gain = Math.sqrt(2 / (1 + negativeSlope * negativeSlope));
  return gen.normal(shape, 0, gain / Math.sqrt(fan));
}
