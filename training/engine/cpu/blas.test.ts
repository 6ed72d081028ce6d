import { equal, throws } from "node:assert/strict";
import { BlasUnavailableError } from "../errors.ts";
import { gemmThreads, loadBlas } from "./blas.ts";

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

Deno.test("thin GEMMs run on one thread, and results stay right as the thread count switches", () => {
  equal(gemmThreads(16, 12, 2), 1);
  equal(gemmThreads(12, 69662, 2), 1);
  equal(gemmThreads(16, 16, 2), 2);
  equal(gemmThreads(1024, 1024, 1), 1);
  const blas = loadBlas();
  const product = (M: number, N: number, K: number) => {
    const a = Float32Array.from({ length: M * K }, (_, i) => (i % 7) - 3);
    const b = Float32Array.from({ length: K * N }, (_, i) => (i % 5) - 2);
    const c = new Float32Array(M * N);
    blas.sgemm({ transA: false, transB: false, M, N, K, a, lda: K, b, ldb: N, c, ldc: N });
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let expected = 0;
        for (let k = 0; k < K; k++) expected += a[m * K + k] * b[k * N + n];
        equal(c[m * N + n], expected, `[${m}, ${n}] of ${M}x${N}x${K}`);
      }
    }
  };
  for (const [M, N, K] of [[4, 3, 2000], [64, 96, 300], [3, 200, 50], [64, 96, 300]]) {
    product(M, N, K);
  }
});
