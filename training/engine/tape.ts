/**
 * The recording tape of reverse-mode differentiation, below the ops: ops
 * call {@link record} with a backward function that maps the output's
 * gradient to one gradient per input (or null where none is needed), and
 * `autograd.ts` walks the tape backwards. Recording goes to the innermost
 * tape only, and only for ops with a tracked input.
 *
 * @module
 */

import type { Tensor } from "./tensor.ts";

/**
 * Maps the gradient of an op's output to gradients of its inputs. `needed[k]`
 * says whether input k's gradient is wanted; the function may return null
 * for the others (and should, when they cost work).
 */
export type Backward = (gradOutput: Tensor, needed: readonly boolean[]) => (Tensor | null)[];

/** One recorded op. */
export interface TapeEntry {
  inputs: Tensor[];
  output: Tensor;
  backward: Backward;
}

/** The ops recorded while differentiating one function. */
export interface Tape {
  entries: TapeEntry[];
  /** Tensors whose gradient is wanted: the targets and what derives from them. */
  tracked: Set<Tensor>;
}

const tapes: Tape[] = [];
let paused = 0;

/** Makes `tape` the innermost tape, the one ops record on, until {@link endTape}. */
export function beginTape(tape: Tape): void {
  tapes.push(tape);
}

/** Stops recording on `tape`. */
export function endTape(tape: Tape): void {
  tapes.splice(tapes.lastIndexOf(tape), 1);
}

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
