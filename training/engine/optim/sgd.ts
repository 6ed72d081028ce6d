/**
 * Stochastic gradient descent with the semantics of `torch.optim.SGD`:
 * L2 weight decay added to the gradient, then optional momentum (with
 * dampening, optionally Nesterov).
 *
 * @module
 */

import { EngineError } from "../errors.ts";
import { empty, keep, type Tensor, zeros } from "../tensor.ts";
import { checkOption, checkStateShape, runUpdate, SlotOptimizer } from "./common.ts";
import type { Parameter } from "./parameter.ts";

/** Hyperparameters of {@link SGD}; defaults are PyTorch's. */
export interface SGDOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Momentum factor (default 0: plain gradient descent, no state). */
  momentum?: number;
  /** Dampening of the gradient's contribution to momentum (default 0). */
  dampening?: number;
  /** L2 penalty coefficient added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
}

/** What SGD with momentum keeps per parameter. */
export interface SGDSlot {
  momentumBuffer: Tensor;
}

/**
 * Value (x0), gradient (x1) and momentum buffer (x2) in one pass, to fresh
 * tensors; all options are scalars. As in PyTorch, the buffer starts as the
 * first (undampened) gradient (s5 = 1 on the first step, when x2 is a zero
 * tensor rather than a stand-in operand, which a backend would bind
 * differently).
 */
const MOMENTUM_LETS = [
  { name: "grad", expr: "x1 + s1 * x0" },
  { name: "buf", expr: "select(s2 * x2 + s3 * grad, grad, s5 > 0.5)" },
];

/**
 * The SGD optimiser.
 *
 * Ownership: `step` replaces each parameter's value (see {@link Parameter})
 * and owns the momentum buffers it creates; gradients stay the caller's.
 * Nothing is recorded on an autograd tape, and nothing is left to the
 * enclosing scope.
 */
export class SGD extends SlotOptimizer<SGDSlot> {
  /** Momentum factor (0: no momentum buffers). */
  readonly momentum: number;
  /** Dampening of the gradient's contribution to momentum. */
  readonly dampening: number;
  /** L2 penalty coefficient added to the gradient. */
  readonly weightDecay: number;
  /** Whether the step follows Nesterov's look-ahead direction. */
  readonly nesterov: boolean;

  /** An optimiser with no state yet. */
  constructor(options: SGDOptions = {}) {
    const { lr = 1e-3, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = options;
    super("SGD", lr);
    checkOption("SGD", "momentum", momentum, 0);
    checkOption("SGD", "dampening", dampening, 0, 1);
    checkOption("SGD", "weightDecay", weightDecay, 0);
    if (nesterov && (momentum === 0 || dampening !== 0)) {
      throw new EngineError(
        `SGD nesterov needs momentum > 0 and dampening 0, got momentum ${momentum}, ` +
          `dampening ${dampening}.`,
      );
    }
    this.momentum = momentum;
    this.dampening = dampening;
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
  }

  protected checkSlot(param: Parameter, slot: SGDSlot): void {
    checkStateShape("SGD", param, "momentumBuffer", slot.momentumBuffer);
  }

  protected update(param: Parameter, grad: Tensor): void {
    if (this.momentum === 0) this.#plainUpdate(param, grad);
    else this.#momentumUpdate(param, grad);
  }

  #plainUpdate(param: Parameter, grad: Tensor): void {
    const x = param.value;
    const xNew = empty(x.shape);
    runUpdate({
      name: "sgd_update",
      inputs: [x, grad],
      lets: [],
      outputs: [{ tensor: xNew, expr: "x0 - s0 * (x1 + s1 * x0)" }],
      scalars: [this.lr, this.weightDecay],
    });
    param.replace(xNew);
  }

  #momentumUpdate(param: Parameter, grad: Tensor): void {
    const slot = this.slots.get(param.name);
    const x = param.value;
    const buffer = slot?.momentumBuffer ?? zeros(x.shape);
    const [xNew, bNew] = [empty(x.shape), keep(empty(x.shape))];
    runUpdate({
      name: "sgd_momentum_update",
      inputs: [x, grad, buffer],
      lets: MOMENTUM_LETS,
      outputs: [
        { tensor: xNew, expr: "x0 - s0 * select(buf, grad + s2 * buf, s4 > 0.5)" },
        { tensor: bNew, expr: "buf" },
      ],
      scalars: [
        this.lr,
        this.weightDecay,
        this.momentum,
        1 - this.dampening,
        this.nesterov ? 1 : 0,
        slot ? 0 : 1,
      ],
    });
    buffer.dispose();
    this.slots.set(param.name, { momentumBuffer: bNew });
    param.replace(xNew);
  }
}
