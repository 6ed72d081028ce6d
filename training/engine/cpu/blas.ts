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
  openblas_set_num_threads: { parameters: ["i32"], result: "void" },
  openblas_get_config: { parameters: [], result: "pointer" },
} as const;

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

/**
 * Below this many rows or columns of C a GEMM runs on one thread. OpenBLAS
 * splits C's rows and columns between its threads; with one side this thin
 * (a weight gradient of a 3-channel layer: 16 x 12 over K = 69,662) the
 * split costs more than it gains: measured on the 2-core EPYC, 0.62 ms on
 * one thread against 1.23-1.31 on two for that GEMM, 0.75 against 1.25-1.37
 * for 12 x 69,662 x 32 with A transposed, and no shape in a DCGAN step with
 * both sides at least 16 was faster on one thread.
 */
export const ONE_THREAD_BELOW = 16;

/** The threads OpenBLAS should use for a GEMM of C's shape M x N, at most `threads`. */
export function gemmThreads(M: number, N: number, threads: number): number {
  return Math.min(M, N) < ONE_THREAD_BELOW ? 1 : threads;
}

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
  /** The thread count OpenBLAS was last set to. */
  #current: number;

  constructor(lib: Deno.DynamicLibrary<typeof SYMBOLS>) {
    this.#lib = lib;
    this.threads = lib.symbols.openblas_get_num_threads();
    this.#current = this.threads;
    const config = lib.symbols.openblas_get_config();
    const text = config ? new Deno.UnsafePointerView(config).getCString() : "OpenBLAS";
    this.description = `${text.trim()}, ${this.threads} thread${this.threads === 1 ? "" : "s"}`;
  }

  /** Runs one GEMM (synchronously, on OpenBLAS's threads; see {@link gemmThreads}). */
  sgemm(g: Sgemm): void {
    if (g.M === 0 || g.N === 0) return;
    const threads = gemmThreads(g.M, g.N, this.threads);
    if (threads !== this.#current) {
      this.#lib.symbols.openblas_set_num_threads(threads);
      this.#current = threads;
    }
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

/**
 * How long OpenBLAS's threads spin after a GEMM before they sleep, as
 * OPENBLAS_THREAD_TIMEOUT (2^n cycles; OpenBLAS's default 28 is about 0.1 s):
 * spinning, they took the cores from the CPU backend's loop threads
 * (`threads.ts`), which run between the GEMMs. With 8 a W16_b64 DCGAN step
 * took 216-218 ms against 235-302 ms with the default.
 */
const THREAD_TIMEOUT = "8";

/**
 * Runs `open` (the library's loading, when OpenBLAS reads its environment)
 * with OPENBLAS_THREAD_TIMEOUT set to {@link THREAD_TIMEOUT} unless the
 * environment sets it; the variable is removed again, so that programs this
 * process starts (PyTorch in the benchmarks) keep their own default.
 */
function withThreadTimeout<T>(open: () => T): T {
  if (Deno.env.has("OPENBLAS_THREAD_TIMEOUT")) return open();
  Deno.env.set("OPENBLAS_THREAD_TIMEOUT", THREAD_TIMEOUT);
  try {
    return open();
  } finally {
    Deno.env.delete("OPENBLAS_THREAD_TIMEOUT");
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
      const blas = new Blas(withThreadTimeout(() => Deno.dlopen(name, SYMBOLS)));
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
