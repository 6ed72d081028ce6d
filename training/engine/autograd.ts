/**
 * Reverse-mode differentiation over a tape.
 *
 * {@link valueAndGrad} runs a function while recording the ops that depend
 * on the tensors to differentiate, then walks the tape backwards. Gradients
 * exist for any input tensor, parameters and data alike (Langevin dynamics
 * differentiates with respect to latent vectors). Every tensor the function
 * created is disposed afterwards, except the value and the gradients.
 *
 * Scopes that end inside the recorded function keep their tensors alive
 * until the gradients are computed, since backward functions may use them.
 *
 * Ops call {@link record} with a backward function that maps the output's
 * gradient to one gradient per input (or null where none is needed).
 *
 * @module
 */

import { EngineError } from "./errors.ts";
import { add, sumTo } from "./ops/elementwise.ts";
import { deferScopeDisposal, full, scope, type Tensor, undeferredScope, zeros } from "./tensor.ts";

/**
 * Maps the gradient of an op's output to gradients of its inputs. `needed[k]`
 * says whether input k's gradient is wanted; the function may return null
 * for the others (and should, when they cost work).
 */
export type Backward = (gradOutput: Tensor, needed: readonly boolean[]) => (Tensor | null)[];

interface TapeEntry {
  inputs: Tensor[];
  output: Tensor;
  backward: Backward;
}

interface Tape {
  entries: TapeEntry[];
  /** Tensors whose gradient is wanted: the targets and what derives from them. */
  tracked: Set<Tensor>;
}

const tapes: Tape[] = [];
let paused = 0;

/** True when an op with these inputs must record its backward. */
export function isTracked(inputs: readonly Tensor[]): boolean {
  const tape = tapes.at(-1);
  return !!tape && paused === 0 && inputs.some((t) => tape.tracked.has(t));
}

/** Records an op on the active tape when one of its inputs is tracked. */
export function record(inputs: Tensor[], output: Tensor, backward: Backward): void {
  if (!isTracked(inputs)) return;
  const tape = tapes.at(-1)!;
  tape.tracked.add(output);
  tape.entries.push({ inputs, output, backward });
}

/** Runs `fn` without recording anything. */
export function noGrad<T>(fn: () => T): T {
  paused++;
  try {
    return fn();
  } finally {
    paused--;
  }
}

/** The value of `fn` and its gradient with respect to each of `targets`. */
export interface ValueAndGrads {
  value: Tensor;
  grads: Tensor[];
}

/**
 * Evaluates `fn` (which must return a one-element tensor) and its gradients
 * with respect to `targets`. The returned tensors belong to the caller's
 * scope; everything else `fn` created is disposed.
 */
export function valueAndGrad(fn: () => Tensor, targets: readonly Tensor[]): ValueAndGrads {
  const tape: Tape = { entries: [], tracked: new Set(targets) };
  // Ops record on the innermost tape only, so an outer tape never needs this
  // call's temporaries: they are freed here even when nested.
  return undeferredScope(() => {
    tapes.push(tape);
    let value: Tensor;
    try {
      value = deferScopeDisposal(fn);
    } finally {
      tapes.splice(tapes.lastIndexOf(tape), 1);
    }
    if (value.size !== 1) {
      throw new EngineError(
        `valueAndGrad needs a function returning one value, got shape [${value.shape.join(", ")}].`,
      );
    }
    const grads = noGrad(() => backpropagate(tape, value));
    return { value, grads: targets.map((t) => grads.get(t) ?? zeros(t.shape)) };
  });
}

function backpropagate(tape: Tape, value: Tensor): Map<Tensor, Tensor> {
  const grads = new Map<Tensor, Tensor>();
  if (!tape.tracked.has(value)) return grads;
  grads.set(value, full(value.shape, 1));
  for (let i = tape.entries.length - 1; i >= 0; i--) {
    const { inputs, output, backward } = tape.entries[i];
    const gradOutput = grads.get(output);
    if (!gradOutput) continue;
    grads.delete(output);
    // Each op's temporaries die with its own scope; every returned gradient is
    // a distinct tensor object so that disposing one never frees another.
    const inputGrads = scope(() => {
      const distinct = new Set<Tensor>([gradOutput]);
      const needed = inputs.map((input) => tape.tracked.has(input));
      return backward(gradOutput, needed).map((g, k) => {
        if (!g || !needed[k]) return null;
        let reduced = sumTo(g, inputs[k].shape);
        if (distinct.has(reduced)) reduced = reduced.view(reduced.shape);
        distinct.add(reduced);
        return reduced;
      });
    });
    gradOutput.dispose();
    inputs.forEach((input, k) => {
      const g = inputGrads[k];
      if (!g) return;
      if (!tape.tracked.has(input)) {
        g.dispose();
        return;
      }
      const previous = grads.get(input);
      if (previous) {
        grads.set(input, add(previous, g));
        previous.dispose();
        g.dispose();
      } else {
        grads.set(input, g);
      }
    });
  }
  return grads;
}
