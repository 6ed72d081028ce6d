/**
 * Adam (Kingma & Ba 2015) with the semantics of `torch.optim.Adam`
 * (`amsgrad=False`): L2 weight decay added to the gradient, bias-corrected
 * moments, eps added to the corrected root second moment.
 *
 * @module
 */

import { EngineError } from "../errors.ts";
import { empty, keep, type Tensor, zeros } from "../tensor.ts";
import { checkOption, checkStateShape, runUpdate, SlotOptimizer } from "./common.ts";
import type { Parameter } from "./parameter.ts";

/** Hyperparameters of {@link Adam}; defaults are PyTorch's. */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay of the first moment (default 0.9). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to the root second moment (default 1e-8). */
  eps?: number;
  /** L2 penalty coefficient added to the gradient (default 0). */
  weightDecay?: number;
}

/** What Adam keeps per parameter. */
export interface AdamSlot {
  /** Updates applied to this parameter so far (drives bias correction). */
  step: number;
  /** First moment (running mean of gradients). */
  m: Tensor;
  /** Second moment (running mean of squared gradients). */
  v: Tensor;
}

/** Everything an Adam optimiser accumulated, keyed by parameter name. */
export interface AdamState {
  slots: Record<string, AdamSlot>;
}

/**
 * One pass per parameter: reads value (x0), gradient (x1) and moments (x2,
 * x3), writes the new ones to fresh tensors. Everything that changes between
 * steps (learning rate, bias corrections) is a scalar, and the moments start
 * as zero tensors (not a stand-in operand, which a backend would bind
 * differently), so the kernel is compiled once.
 */
const ADAM_LETS = [
  { name: "grad", expr: "x1 + s5 * x0" },
  { name: "m1", expr: "s1 * grad + s0 * x2" },
  { name: "v1", expr: "s3 * grad * grad + s2 * x3" },
];

/**
 * The Adam optimiser.
 *
 * Ownership: `step` replaces each parameter's value (see {@link Parameter})
 * and owns the moments it creates; gradients stay the caller's. Nothing is
 * recorded on an autograd tape (the update kernel never calls `record`), and
 * nothing is left to the enclosing scope.
 */
export class Adam extends SlotOptimizer<AdamSlot> {
  /** Decay of the first moment. */
  readonly beta1: number;
  /** Decay of the second moment. */
  readonly beta2: number;
  /** Added to the bias-corrected root second moment. */
  readonly eps: number;
  /** L2 penalty coefficient added to the gradient. */
  readonly weightDecay: number;

  /** An optimiser with no state yet; moments are created at each parameter's first step. */
  constructor(options: AdamOptions = {}) {
    const { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 } = options;
    super("Adam", lr);
    checkOption("Adam", "beta1", beta1, 0, 1);
    checkOption("Adam", "beta2", beta2, 0, 1);
    checkOption("Adam", "eps", eps, 0);
    checkOption("Adam", "weightDecay", weightDecay, 0);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  protected checkSlot(param: Parameter, slot: AdamSlot): void {
    checkStateShape("Adam", param, "m", slot.m);
    checkStateShape("Adam", param, "v", slot.v);
  }

  protected update(param: Parameter, grad: Tensor): void {
    const x = param.value;
    const slot = this.slots.get(param.name) ?? { step: 0, m: zeros(x.shape), v: zeros(x.shape) };
    const step = slot.step + 1;
    const [xNew, mNew, vNew] = [empty(x.shape), keep(empty(x.shape)), keep(empty(x.shape))];
    runUpdate({
      name: "adam_update",
      inputs: [x, grad, slot.m, slot.v],
      lets: ADAM_LETS,
      outputs: [
        { tensor: xNew, expr: "x0 - s6 * m1 / (sqrt(v1) * s7 + s4)" },
        { tensor: mNew, expr: "m1" },
        { tensor: vNew, expr: "v1" },
      ],
      scalars: [
        this.beta1,
        1 - this.beta1,
        this.beta2,
        1 - this.beta2,
        this.eps,
        this.weightDecay,
        this.lr / (1 - this.beta1 ** step),
        1 / Math.sqrt(1 - this.beta2 ** step),
      ],
    });
    slot.m.dispose();
    slot.v.dispose();
    this.slots.set(param.name, { step, m: mNew, v: vNew });
    param.replace(xNew);
  }

  /** As {@link SlotOptimizer.loadState}, after checking each slot's step count. */
  override loadState(state: AdamState): void {
    for (const [name, slot] of Object.entries(state.slots)) {
      if (!Number.isSafeInteger(slot.step) || slot.step < 1) {
        throw new EngineError(
          `Adam state of "${name}" has step ${slot.step}; it must be an integer >= 1.`,
        );
      }
    }
    super.loadState(state);
  }
}
