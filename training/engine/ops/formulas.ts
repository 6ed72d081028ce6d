/**
 * Formulas (see `backend.ts`) that more than one op writes, over an operand
 * expression `v`, so that each is spelled once.
 *
 * @module
 */

import { formulaLiteral } from "../backend.ts";
import { EngineError } from "../errors.ts";

/** log(1 + e^v) without overflow. */
export function softplusFormula(v: string): string {
  return `max(${v}, 0.0) + log(1.0 + exp(-abs(${v})))`;
}

/** The logistic sigmoid 1 / (1 + e^-v), softplus's derivative; e^-v overflowing gives 0. */
export function sigmoidFormula(v: string): string {
  return `1.0 / (1.0 + exp(-(${v})))`;
}

/**
 * An activation that a convolution or batch norm applies to its output in
 * its own kernel; its gradient is read off the output, which saves a pass.
 */
export type Activation = { kind: "tanh" } | { kind: "leakyRelu"; slope: number };

/** The activation of `v`. */
export function activationFormula(activation: Activation, v: string): string {
  if (activation.kind === "tanh") return `tanh(${v})`;
  return `select(${v} * ${formulaLiteral(activation.slope)}, ${v}, ${v} > 0.0)`;
}

/**
 * The gradient through the activation of `grad`, from its output `y`: a
 * leaky ReLU's output is positive exactly where its input is (slope >= 0).
 */
export function activationGradientFormula(activation: Activation, grad: string, y: string): string {
  if (activation.kind === "tanh") return `${grad} * (1.0 - ${y} * ${y})`;
  return `select(${grad} * ${formulaLiteral(activation.slope)}, ${grad}, ${y} > 0.0)`;
}

/** Throws unless a leaky ReLU's slope is finite and >= 0, as reading its gradient off the output needs. */
export function checkActivation(owner: string, activation: Activation | undefined): void {
  if (activation?.kind !== "leakyRelu") return;
  const { slope } = activation;
  if (!(slope >= 0 && Number.isFinite(slope))) {
    throw new EngineError(
      `${owner}: leakySlope must be a finite number >= 0 (its gradient is read off the ` +
        `output's sign), got ${slope}.`,
    );
  }
}
