/**
 * Formulas (see `backend.ts`) that more than one op writes, over an operand
 * expression `v`, so that each is spelled once.
 *
 * @module
 */

/** log(1 + e^v) without overflow. */
export function softplusFormula(v: string): string {
  return `max(${v}, 0.0) + log(1.0 + exp(-abs(${v})))`;
}

/** The logistic sigmoid 1 / (1 + e^-v), softplus's derivative; e^-v overflowing gives 0. */
export function sigmoidFormula(v: string): string {
  return `1.0 / (1.0 + exp(-(${v})))`;
}
