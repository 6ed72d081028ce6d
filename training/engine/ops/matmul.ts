/**
 * Matrix products (batched, with optional transposes) and the linear layer,
 * with their gradients.
 *
 * @module
 */

import { backend } from "../engine.ts";
import { ShapeError } from "../errors.ts";
import { record } from "../tape.ts";
import { empty, type Shape, type Tensor, zeros } from "../tensor.ts";
import { add } from "./elementwise.ts";

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** Use the transpose of the last two dimensions of `a`. */
  transposeA?: boolean;
  /** Use the transpose of the last two dimensions of `b`. */
  transposeB?: boolean;
}

interface Operand {
  rows: number;
  cols: number;
  batch: number;
  transposed: boolean;
}

function describe(t: Tensor, transposed: boolean, which: string): Operand {
  if (t.rank < 2) {
    throw new ShapeError(
      `matmul operand ${which} must have rank >= 2, got [${t.shape.join(", ")}].`,
    );
  }
  const r = t.shape[t.rank - 2], c = t.shape[t.rank - 1];
  const batch = t.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  return transposed
    ? { rows: c, cols: r, batch, transposed }
    : { rows: r, cols: c, batch, transposed };
}

/**
 * a @ b over the last two dimensions. Leading (batch) dimensions must be
 * equal, or absent from one operand, which is then shared by all batches.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const ta = options.transposeA ?? false, tb = options.transposeB ?? false;
  const A = describe(a, ta, "a"), B = describe(b, tb, "b");
  if (A.cols !== B.rows) {
    throw new ShapeError(
      `matmul: [${a.shape.join(", ")}]${ta ? "^T" : ""} @ [${b.shape.join(", ")}]${
        tb ? "^T" : ""
      } has inner sizes ${A.cols} and ${B.rows}.`,
    );
  }
  const batchShape: Shape = a.rank >= b.rank ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
  const other = a.rank >= b.rank ? b : a;
  if (other.rank > 2 && other.shape.slice(0, -2).join() !== batchShape.join()) {
    throw new ShapeError(
      `matmul: batch dimensions [${a.shape.slice(0, -2).join(", ")}] and ` +
        `[${b.shape.slice(0, -2).join(", ")}] differ.`,
    );
  }
  const batch = batchShape.reduce((x, y) => x * y, 1);
  const M = A.rows, N = B.cols, K = A.cols;
  const outShape = [...batchShape, M, N];
  let out: Tensor;
  if (K === 0) {
    out = zeros(outShape);
  } else {
    out = empty(outShape);
    backend().matmul({
      batch,
      M,
      N,
      K,
      a: a.buffer,
      b: b.buffer,
      c: out.buffer,
      transposeA: ta,
      transposeB: tb,
      batchedA: A.batch > 1,
      batchedB: B.batch > 1,
    });
  }
  record([a, b], out, (g, [needA, needB]) => [
    // dA = g @ B^T (stored as A is: transposed or not); dB = A^T @ g.
    !needA
      ? null
      : ta
      ? matmul(b, g, { transposeA: tb, transposeB: true })
      : matmul(g, b, { transposeB: !tb }),
    !needB
      ? null
      : tb
      ? matmul(g, a, { transposeA: true, transposeB: ta })
      : matmul(a, g, { transposeA: !ta }),
  ]);
  return out;
}

/** x @ w^T + bias, with w of shape [out, in] as in PyTorch. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
  const y = matmul(x, w, { transposeB: true });
  return bias ? add(y, bias) : y;
}
