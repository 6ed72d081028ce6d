/**
 * Test harness for ops: compares an op's GPU forward with a float64 host
 * reference, and its GPU backward with central finite differences of that
 * reference (in float64, so the numerical gradient is accurate).
 *
 * @module
 */

import { mulberry32 } from "../../../core/host_random.ts";
import { valueAndGrad } from "../autograd.ts";
import { mul } from "../ops/elementwise.ts";
import { sum } from "../ops/reduce.ts";
import { asyncScope, type Tensor, tensor } from "../tensor.ts";

/** A float64 host tensor used by references. */
export interface HostTensor {
  shape: number[];
  data: Float64Array;
}

/** Deterministic host random numbers (mulberry32). */
export class HostRng {
  /** Uniform in [0, 1). */
  readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** A host tensor with entries uniform in [lo, hi). */
  uniform(shape: number[], lo = -1, hi = 1): HostTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    return { shape, data: Float64Array.from({ length: n }, () => lo + (hi - lo) * this.next()) };
  }
}

/** Uploads a host tensor (rounded to f32). */
export function upload(x: HostTensor): Tensor {
  return tensor(Float32Array.from(x.data), x.shape);
}

/** Throws with the worst element unless |a - e| <= atol + rtol * |e| everywhere. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  atol = 1e-4,
  rtol = 1e-4,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  }
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(atol ${atol}, rtol ${rtol})`,
    );
  }
}

/** What {@link checkOp} compares. */
export interface OpCheck {
  name: string;
  inputs: HostTensor[];
  /** The op on GPU tensors. */
  gpu: (xs: Tensor[]) => Tensor;
  /** The same op in float64 on the host. */
  reference: (xs: HostTensor[]) => HostTensor;
  /** Inputs to differentiate (indices); default all. */
  differentiate?: number[];
  atol?: number;
  rtol?: number;
  /** Finite-difference step. */
  step?: number;
  /** At most this many elements per input are probed by finite differences. */
  probes?: number;
  seed?: number;
}

/** Forward against the reference, backward against finite differences. */
export async function checkOp(original: OpCheck): Promise<void> {
  // The GPU sees f32 inputs; so does the reference.
  const check = {
    ...original,
    inputs: original.inputs.map((t) => ({ shape: t.shape, data: roundToF32(t.data) })),
  };
  const atol = check.atol ?? 1e-4, rtol = check.rtol ?? 1e-3;
  const expected = check.reference(check.inputs);
  const rng = new HostRng(check.seed ?? 7);
  const cotangent = rng.uniform(expected.shape);
  const which = check.differentiate ?? check.inputs.map((_, k) => k);

  await asyncScope(async () => {
    const xs = check.inputs.map(upload);
    const out = check.gpu(xs);
    if (out.shape.join() !== expected.shape.join()) {
      throw new Error(
        `${check.name}: shape [${out.shape.join(", ")}], expected [${expected.shape.join(", ")}]`,
      );
    }
    assertClose(await out.data(), expected.data, `${check.name} forward`, atol, rtol);
    if (which.length === 0) return;

    const r = upload(cotangent);
    const targets = which.map((k) => xs[k]);
    const { grads } = valueAndGrad(() => sum(mul(check.gpu(xs), r)), targets);
    for (let w = 0; w < which.length; w++) {
      const k = which[w];
      const numeric = finiteDifferences(check, k, cotangent, rng);
      const analytic = await grads[w].data();
      const picked = numeric.indices.map((i) => analytic[i]);
      assertClose(picked, numeric.values, `${check.name} gradient of input ${k}`, atol, rtol);
    }
  });
}

/** `n` f32-rounded random values in [-1, 1), as the device will see them. */
export function randomF32(rng: HostRng, n: number): Float64Array {
  return roundToF32(rng.uniform([n]).data);
}

/** `data` rounded to f32, as the device stores it, so that host references see the same numbers. */
export function roundToF32(data: Float64Array): Float64Array {
  return Float64Array.from(Float32Array.from(data));
}

function finiteDifferences(
  check: OpCheck,
  k: number,
  cotangent: HostTensor,
  rng: HostRng,
): { indices: number[]; values: number[] } {
  const h = check.step ?? 1e-5;
  const x = check.inputs[k];
  const n = x.data.length;
  const probes = Math.min(n, check.probes ?? 64);
  const indices = probes === n
    ? [...Array(n).keys()]
    : [...new Set(Array.from({ length: probes }, () => rng.int(0, n - 1)))];
  const loss = (inputs: HostTensor[]) => {
    const y = check.reference(inputs);
    let s = 0;
    for (let i = 0; i < y.data.length; i++) s += y.data[i] * cotangent.data[i];
    return s;
  };
  const values = indices.map((i) => {
    const plus = check.inputs.map((t, j) => (j === k ? { ...t, data: t.data.slice() } : t));
    const minus = check.inputs.map((t, j) => (j === k ? { ...t, data: t.data.slice() } : t));
    plus[k].data[i] = x.data[i] + h;
    minus[k].data[i] = x.data[i] - h;
    return (loss(plus) - loss(minus)) / (2 * h);
  });
  return { indices, values };
}

/** Runs `fn` with environment variables set (undefined: unset), restoring them afterwards. */
export async function withEnv<T>(
  values: Record<string, string | undefined>,
  fn: () => T | Promise<T>,
): Promise<T> {
  const previous = Object.fromEntries(Object.keys(values).map((n) => [n, Deno.env.get(n)]));
  const apply = (settings: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(settings)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  };
  apply(values);
  try {
    return await fn();
  } finally {
    apply(previous);
  }
}
