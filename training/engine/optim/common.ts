/**
 * Machinery shared by the optimisers: checks of their inputs, their fused
 * element-wise updates, and owned copies of state tensors.
 *
 * @module
 */

import { denseView } from "../backend.ts";
import { backend } from "../engine.ts";
import { DisposedTensorError, EngineError, ShapeError } from "../errors.ts";
import { empty, keep, Tensor } from "../tensor.ts";
import { type Parameter, sameShape } from "./parameter.ts";

/** Throws unless `min <= value < below` (which also rejects NaN and infinities). */
export function checkOption(
  owner: string,
  name: string,
  value: number,
  min: number,
  below = Infinity,
): void {
  if (!(value >= min && value < below && Number.isFinite(value))) {
    const range = below === Infinity ? `a finite number >= ${min}` : `in [${min}, ${below})`;
    throw new EngineError(`${owner} ${name} must be ${range}, got ${value}.`);
  }
}

/**
 * Throws unless `grads` pairs one live gradient of the right shape with each
 * live, uniquely named parameter.
 */
export function checkStepInputs(
  owner: string,
  params: readonly Parameter[],
  grads: readonly Tensor[],
): void {
  if (params.length === 0) {
    throw new EngineError(
      `${owner}.step got no parameters; pass the model's parameters and their gradients.`,
    );
  }
  if (params.length !== grads.length) {
    throw new EngineError(
      `${owner}.step got ${params.length} parameters and ${grads.length} gradients; pass one ` +
        "gradient per parameter, in the same order.",
    );
  }
  const names = new Set<string>();
  params.forEach((param, k) => {
    if (names.has(param.name)) {
      throw new EngineError(
        `${owner}.step got two parameters named "${param.name}"; optimiser state is keyed ` +
          "by name, so give each parameter a unique name.",
      );
    }
    names.add(param.name);
    if (param.value.disposed || grads[k].disposed) {
      throw new DisposedTensorError(
        `${owner}.step: the ${param.value.disposed ? "value" : "gradient"} of "${param.name}" ` +
          "was disposed; keep parameters and gradients alive until the step.",
      );
    }
    if (!sameShape(grads[k].shape, param.shape)) {
      throw new ShapeError(
        `${owner}.step: the gradient of "${param.name}" has shape ` +
          `[${grads[k].shape.join(", ")}], the parameter [${param.shape.join(", ")}].`,
      );
    }
  });
}

/** Throws unless a state tensor kept for `param` still fits it. */
export function checkStateShape(owner: string, param: Parameter, what: string, t: Tensor): void {
  if (!sameShape(t.shape, param.shape)) {
    throw new ShapeError(
      `${owner} state ${what} of "${param.name}" has shape [${t.shape.join(", ")}], the ` +
        `parameter [${param.shape.join(", ")}]: the state belongs to another model; load ` +
        "matching state or use a fresh optimiser.",
    );
  }
}

/** An element-wise update: its operands, intermediate formulas and outputs. */
export interface Update {
  name: string;
  /** Read as `x0`, `x1`, ... (all of the parameter's shape). */
  inputs: readonly Tensor[];
  lets: readonly { name: string; expr: string }[];
  /** Tensors written, each with its formula. */
  outputs: readonly { tensor: Tensor; expr: string }[];
  /** Read as `s0`, `s1`, ...: everything that changes between steps, so one kernel serves all. */
  scalars: readonly number[];
}

/** Runs an update as one fused map over the elements (formulas as in `backend.ts`). */
export function runUpdate(update: Update): void {
  const shape = [update.inputs[0].size];
  const view = denseView(shape);
  backend().map({
    name: update.name,
    shape,
    inputs: update.inputs.map((t) => ({ buffer: t.buffer, view })),
    outputs: update.outputs.map((o) => ({ buffer: o.tensor.buffer, view, expr: o.expr })),
    lets: update.lets,
    scalars: update.scalars,
  });
}

/**
 * Per-parameter optimiser state keyed by parameter name. A slot's tensor
 * fields are owned by the store; other fields (counters) are plain values.
 */
export class SlotStore<S extends object> {
  readonly #owner: string;
  readonly #slots = new Map<string, S>();

  constructor(owner: string) {
    this.#owner = owner;
  }

  get(name: string): S | undefined {
    return this.#slots.get(name);
  }

  /** Sets a slot, taking ownership of its tensors (the caller disposed the previous ones). */
  set(name: string, slot: S): void {
    this.#slots.set(name, slot);
  }

  /** Every slot, borrowed: valid until the next `set`, `load` or `dispose`. */
  snapshot(): Record<string, S> {
    return Object.fromEntries([...this.#slots].map(([name, slot]) => [name, { ...slot }]));
  }

  /** Replaces all slots with copies of `slots` (the caller keeps its tensors). */
  load(slots: Record<string, S>): void {
    for (const [name, slot] of Object.entries(slots)) {
      if (tensorsOf(slot).some((t) => t.disposed)) {
        throw new DisposedTensorError(
          `${this.#owner} state of "${name}" holds a disposed tensor; load state before ` +
            "disposing it.",
        );
      }
    }
    // Copy before disposing: `slots` may be this store's own.
    const copies = Object.entries(slots).map(([name, slot]) => {
      const copy = Object.fromEntries(
        Object.entries(slot).map(([key, value]) => [
          key,
          value instanceof Tensor ? ownedCopy(value) : value,
        ]),
      ) as S;
      return [name, copy] as const;
    });
    this.dispose();
    for (const [name, slot] of copies) this.#slots.set(name, slot);
  }

  /** Frees every slot's tensors. */
  dispose(): void {
    for (const slot of this.#slots.values()) for (const t of tensorsOf(slot)) t.dispose();
    this.#slots.clear();
  }
}

function tensorsOf(slot: object): Tensor[] {
  return Object.values(slot).filter((v): v is Tensor => v instanceof Tensor);
}

/** A copy of `t` that no scope tracks: the caller owns it. */
function ownedCopy(t: Tensor): Tensor {
  const copy = empty(t.shape);
  backend().copy(t.buffer, 0, copy.buffer, 0, t.size);
  return keep(copy);
}

/**
 * What Adam and SGD share: a validated learning rate that schedules may set,
 * per-parameter state in a {@link SlotStore}, the checks of a step's inputs,
 * and the state's snapshot, load and disposal. Subclasses define the update
 * of one parameter and how to check a slot against its parameter.
 */
export abstract class SlotOptimizer<S extends object> {
  /** Name in error messages ("Adam", "SGD"). */
  readonly #owner: string;
  #lr: number;
  /** Per-parameter state, owned by the optimiser. */
  protected readonly slots: SlotStore<S>;

  protected constructor(owner: string, lr: number) {
    checkOption(owner, "lr", lr, 0);
    this.#owner = owner;
    this.#lr = lr;
    this.slots = new SlotStore<S>(owner);
  }

  /** Learning rate of the next step; set it for schedules (no kernel is recompiled). */
  get lr(): number {
    return this.#lr;
  }

  set lr(value: number) {
    checkOption(this.#owner, "lr", value, 0);
    this.#lr = value;
  }

  /**
   * Applies one update to each parameter from its gradient (`grads[k]` for
   * `params[k]`, same shape). One fused kernel per parameter.
   */
  step(params: readonly Parameter[], grads: readonly Tensor[]): void {
    checkStepInputs(this.#owner, params, grads);
    for (const param of params) {
      const slot = this.slots.get(param.name);
      if (slot) this.checkSlot(param, slot);
    }
    params.forEach((param, k) => this.update(param, grads[k]));
  }

  /**
   * The accumulated state, for checkpoints. Its tensors are borrowed: read
   * them before the next `step`, `loadState` or `dispose`, which free them.
   */
  state(): { slots: Record<string, S> } {
    return { slots: this.slots.snapshot() };
  }

  /**
   * Replaces the accumulated state with a copy of `state` (the caller keeps
   * ownership of the tensors it passed). Hyperparameters are not part of it.
   */
  loadState(state: { slots: Record<string, S> }): void {
    this.slots.load(state.slots);
  }

  /** Frees the state; the optimiser starts afresh at its next step. */
  dispose(): void {
    this.slots.dispose();
  }

  /** Throws if a kept slot does not fit its parameter (see {@link checkStateShape}). */
  protected abstract checkSlot(param: Parameter, slot: S): void;

  /** Updates one parameter (and its slot) from its gradient. */
  protected abstract update(param: Parameter, grad: Tensor): void;
}
