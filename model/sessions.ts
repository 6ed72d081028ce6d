/**
 * onnxruntime-web (wasm) sessions of a bundle's head and tail, checked
 * against the manifest when opened: head z [N, Z] -> maps [N, M, H, W],
 * tail maps [N, M, H, W] -> image [N, 3, S, S]. A bundle whose graphs do not
 * chain, or disagree with its manifest, fails here with a {@link BundleError}.
 *
 * @module
 */

import * as ort from "onnxruntime-web";
import { fileURLToPath } from "node:url";
import { type Bundle, BundleError } from "./bundle.ts";
import type { Manifest } from "./manifest.ts";

/** Options of {@link GeneratorSessions.open}. */
export interface SessionOptions {
  /** wasm threads of onnxruntime (set once per process, before the first session). */
  threads?: number;
}

let configuredThreads: number | undefined;

function configureRuntime(threads: number): void {
  if (configuredThreads === undefined) {
    ort.env.wasm.numThreads = threads;
    ort.env.logLevel = "error";
    configuredThreads = threads;
  }
}

/** The head and tail of one bundle, ready to run. */
export class GeneratorSessions {
  readonly manifest: Manifest;
  readonly #head: ort.InferenceSession;
  readonly #tail: ort.InferenceSession;

  private constructor(manifest: Manifest, head: ort.InferenceSession, tail: ort.InferenceSession) {
    this.manifest = manifest;
    this.#head = head;
    this.#tail = tail;
  }

  /** Opens both sessions and checks their shapes; throws {@link BundleError}. */
  static async open(bundle: Bundle, options: SessionOptions = {}): Promise<GeneratorSessions> {
    configureRuntime(options.threads ?? 1);
    const { manifest } = bundle;
    const { channels, height, width } = manifest.target;
    const maps = ["N", channels, height, width];
    const head = await createSession(bundle, "head");
    const tail = await createSession(bundle, "tail").catch(async (error) => {
      await head.release();
      throw error;
    });
    try {
      checkShape(bundle, "head", "input", head.inputMetadata, ["N", manifest.latent], "latent z");
      checkShape(bundle, "head", "output", head.outputMetadata, maps, "target-layer maps");
      checkShape(bundle, "tail", "input", tail.inputMetadata, maps, "target-layer maps");
      const image = ["N", 3, manifest.resolution, manifest.resolution];
      checkShape(bundle, "tail", "output", tail.outputMetadata, image, "image");
    } catch (error) {
      await Promise.all([head.release(), tail.release()]);
      throw error;
    }
    return new GeneratorSessions(manifest, head, tail);
  }

  /** Latents [n, Z] -> target-layer maps [n, M, H, W]. */
  head(latents: Float32Array, n: number): Promise<Float32Array> {
    return run(this.#head, latents, [n, this.manifest.latent]);
  }

  /** Target-layer maps [n, M, H, W] -> images [n, 3, S, S] in [-1, 1]. */
  tail(maps: Float32Array, n: number): Promise<Float32Array> {
    const { channels, height, width } = this.manifest.target;
    return run(this.#tail, maps, [n, channels, height, width]);
  }

  /** Frees both sessions. */
  async release(): Promise<void> {
    await Promise.all([this.#head.release(), this.#tail.release()]);
  }
}

async function run(
  session: ort.InferenceSession,
  data: Float32Array,
  dims: number[],
): Promise<Float32Array> {
  const input = new ort.Tensor("float32", data, dims);
  const outputs = await session.run({ [session.inputNames[0]]: input });
  const output = outputs[session.outputNames[0]];
  try {
    return output.data as Float32Array;
  } finally {
    input.dispose();
  }
}

function fileOf(bundle: Bundle, part: "head" | "tail"): string {
  const url = new URL(bundle.manifest.files[part].path, bundle.location);
  return url.protocol === "file:" ? fileURLToPath(url) : url.href;
}

async function createSession(bundle: Bundle, part: "head" | "tail") {
  try {
    return await ort.InferenceSession.create(bundle[part]);
  } catch (error) {
    throw new BundleError(
      fileOf(bundle, part),
      `onnxruntime cannot load it: ${(error as Error).message}`,
    );
  }
}

function checkShape(
  bundle: Bundle,
  part: "head" | "tail",
  side: "input" | "output",
  metadata: readonly ort.InferenceSession.ValueMetadata[],
  expected: (string | number)[],
  what: string,
): void {
  const shapeOf = (m: ort.InferenceSession.ValueMetadata) =>
    m.isTensor ? m.shape.map((d) => (typeof d === "number" ? d : "N")) : [];
  if (metadata.length !== 1) {
    throw new BundleError(
      fileOf(bundle, part),
      `has ${metadata.length} ${side}s, expected one (${what}).`,
    );
  }
  const actual = shapeOf(metadata[0]);
  if (actual.join() !== expected.join()) {
    throw new BundleError(
      fileOf(bundle, part),
      `${what} "${metadata[0].name}" is [${actual.join(", ")}] but the manifest makes it ` +
        `[${expected.join(", ")}]: the head's output and the tail's input must be the target ` +
        "layer's maps, and the manifest must describe both files.",
    );
  }
}
