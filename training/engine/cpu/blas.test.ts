import { equal, throws } from "node:assert/strict";
import { BlasUnavailableError } from "../errors.ts";
import { loadBlas } from "./blas.ts";

Deno.test("OpenBLAS multiplies row-major matrices, transposed or not, at offsets", () => {
  const blas = loadBlas();
  // A = [[1, 2], [3, 4]] stored after one padding element; B^T stored as [[5, 7], [6, 8]].
  const a = new Float32Array([99, 1, 2, 3, 4]), bt = new Float32Array([5, 7, 6, 8]);
  const c = new Float32Array(4);
  blas.sgemm({
    transA: false,
    transB: true,
    M: 2,
    N: 2,
    K: 2,
    a,
    aOffset: 1,
    lda: 2,
    b: bt,
    ldb: 2,
    c,
    ldc: 2,
  });
  equal([...c].join(), [1 * 5 + 2 * 7, 1 * 6 + 2 * 8, 3 * 5 + 4 * 7, 3 * 6 + 4 * 8].join());
});

Deno.test("a missing library is one error that names the package to install", () => {
  throws(
    () => loadBlas(["libno-such-blas.so.0"]),
    (e) =>
      e instanceof BlasUnavailableError && /apt-get install libopenblas0-pthread/.test(e.message),
  );
});
