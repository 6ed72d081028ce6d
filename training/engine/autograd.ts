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
 * Ops record themselves on the tape (`tape.ts`, which sits below the ops so
 * that they do not import this module).
 *
 * @module
 */

import { EngineError } from "./errors.ts";
import { add, sumTo } from "./ops/elementwise.ts";
import { beginTape, endTape, noGrad, type Tape } from "./tape.ts";
import { deferScopeDisposal, full, scope, type Tensor, undeferredScope, zeros } from "./tensor.ts";

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
    beginTape(tape);
    let value: Tensor;
    try {
      value = deferScopeDisposal(fn);
    } finally {
      endTape(tape);
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
