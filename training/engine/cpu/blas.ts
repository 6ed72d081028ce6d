/**
 * OpenBLAS's single-precision GEMM through Deno's FFI: the CPU backend's
 * matrix products and convolutions. Debian's `libopenblas0-pthread` gives
 * `libopenblas.so.0`, multithreaded (one thread per core unless
 * `OPENBLAS_NUM_THREADS` says otherwise).
 *
 * @module
 */

import { BlasUnavailableError } from "../errors.ts";

const LIBRARIES = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libopenblas.dll"];

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32", // order
      "i32", // transA
      "i32", // transB
      "i32", // M
      "i32", // N
      "i32", // K
      "f32", // alpha
      "buffer", // A
      "i32", // lda
      "buffer", // B
      "i32", // ldb
      "f32", // beta
      "buffer", // C
      "i32", // ldc
    ],
    result: "void",
  },
  openblas_get_num_threads: { parameters: [], result: "i32" },
  openblas_get_config: { parameters: [], result: "pointer" },
} as const;

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

/** One GEMM: C = alpha * op(A) @ op(B) + beta * C, row-major, with leading dimensions. */
export interface Sgemm {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha?: number;
  /** A starts at element `aOffset` of `a`; lda is its row length as stored. */
  a: Float32Array;
  aOffset?: number;
  lda: number;
  b: Float32Array;
  bOffset?: number;
  ldb: number;
  beta?: number;
  c: Float32Array;
  cOffset?: number;
  ldc: number;
}

/** The loaded library; one per process (see {@link loadBlas}). */
export class Blas {
  readonly #lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  /** "OpenBLAS 0.3.21 ..., 2 threads". */
  readonly description: string;
  readonly threads: number;

  constructor(lib: Deno.DynamicLibrary<typeof SYMBOLS>) {
    this.#lib = lib;
    this.threads = lib.symbols.openblas_get_num_threads();
    const config = lib.symbols.openblas_get_config();
    const text = config ? new Deno.UnsafePointerView(config).getCString() : "OpenBLAS";
    this.description = `${text.trim()}, ${this.threads} thread${this.threads === 1 ? "" : "s"}`;
  }

  /** Runs one GEMM (synchronously, on OpenBLAS's threads). */
  sgemm(g: Sgemm): void {
    if (g.M === 0 || g.N === 0) return;
    const view = (x: Float32Array, offset = 0) =>
      offset === 0 ? x : x.subarray(offset) as Float32Array<ArrayBuffer>;
    this.#lib.symbols.cblas_sgemm(
      ROW_MAJOR,
      g.transA ? TRANS : NO_TRANS,
      g.transB ? TRANS : NO_TRANS,
      g.M,
      g.N,
      g.K,
      g.alpha ?? 1,
      view(g.a, g.aOffset) as Float32Array<ArrayBuffer>,
      g.lda,
      view(g.b, g.bOffset) as Float32Array<ArrayBuffer>,
      g.ldb,
      g.beta ?? 0,
      view(g.c, g.cOffset) as Float32Array<ArrayBuffer>,
      g.ldc,
    );
  }
}

/** Libraries loaded so far, by name: one handle per process. */
const loaded = new Map<string, Blas>();

/**
 * Loads OpenBLAS once (the first of `names` that loads); throws
 * {@link BlasUnavailableError} naming the package when none does.
 */
export function loadBlas(names: readonly string[] = LIBRARIES): Blas {
  const failures: string[] = [];
  for (const name of names) {
    const known = loaded.get(name);
    if (known) return known;
    try {
      const blas = new Blas(Deno.dlopen(name, SYMBOLS));
      loaded.set(name, blas);
      return blas;
    } catch (error) {
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) {
        throw new BlasUnavailableError(
          "The CPU backend calls OpenBLAS through FFI: run Deno with --allow-ffi (or -A), or set " +
            "IGAN_BACKEND=webgpu.",
        );
      }
      failures.push(name);
    }
  }
  throw new BlasUnavailableError(
    `The CPU backend needs OpenBLAS, and none of ${failures.join(", ")} loads: install it ` +
      "(Debian/Ubuntu: apt-get install libopenblas0-pthread), or set IGAN_BACKEND=webgpu to " +
      "train through a WebGPU adapter.",
  );
}
