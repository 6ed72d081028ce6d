/**
 * Trainable parameters. Engine tensors are immutable values, so training
 * replaces a parameter's tensor at every step instead of writing into it; a
 * {@link Parameter} is the stable, named place that holds the current one.
 *
 * @module
 */

import { DisposedTensorError, ShapeError } from "../errors.ts";
import { keep, type Shape, type Tensor } from "../tensor.ts";

/** True when two shapes are equal. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}

/**
 * A named tensor that owns its current value.
 *
 * Ownership: the constructor and {@link Parameter.replace} take ownership of
 * the tensor they are given (it leaves scope tracking, so no scope disposes
 * it); the parameter disposes its previous value on `replace` and its current
 * one on `dispose`. Code that reads `value` borrows it: a tensor derived from
 * it (a view included) stays valid, but `value` itself is freed by the next
 * optimiser step.
 */
export class Parameter {
  /** Key of the parameter in optimiser state and checkpoints; unique per model. */
  readonly name: string;
  /** Shape of every value the parameter holds. */
  readonly shape: Shape;
  #value: Tensor | null;

  /** Wraps `value`, taking ownership of it. */
  constructor(name: string, value: Tensor) {
    if (value.disposed) {
      throw new DisposedTensorError(
        `Parameter "${name}" was given a disposed tensor; pass a live one.`,
      );
    }
    this.name = name;
    this.shape = value.shape;
    this.#value = keep(value);
  }

  /** The current value (borrowed: valid until the next `replace` or `dispose`). */
  get value(): Tensor {
    if (!this.#value) {
      throw new DisposedTensorError(`Parameter "${this.name}" was disposed.`);
    }
    return this.#value;
  }

  /** Makes `next` (same shape, ownership taken) the value and disposes the previous one. */
  replace(next: Tensor): void {
    const previous = this.value;
    if (next === previous) return;
    if (next.disposed) {
      throw new DisposedTensorError(
        `Parameter "${this.name}" cannot take a disposed tensor as its new value.`,
      );
    }
    if (!sameShape(next.shape, this.shape)) {
      throw new ShapeError(
        `Parameter "${this.name}" has shape [${this.shape.join(", ")}]; its new value has ` +
          `[${next.shape.join(", ")}]. Reshape the value or create a new Parameter.`,
      );
    }
    this.#value = keep(next);
    previous.dispose();
  }

  /** Frees the value. Idempotent. */
  dispose(): void {
    this.#value?.dispose();
    this.#value = null;
  }
}
