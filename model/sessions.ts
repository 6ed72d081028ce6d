/**
 * onnxruntime-web (wasm) sessions of a bundle's head and tail (and encoder,
 * vector-Jacobian products and energy model, when it has them), checked
 * against the manifest when opened: head z [N, Z] -> maps [N, M, H, W], tail
 * maps [N, M, H, W] -> image [N, 3, S, S], encoder image [N, 3, S, S] -> z
 * [N, Z]. A bundle whose graphs do not chain, or disagree with its manifest,
 * fails here with a {@link BundleError}.
 *
 * @module
 */

import * as ort from "onnxruntime-web";
import { fileURLToPath } from "node:url";
import { type Bundle, BundleError } from "./bundle.ts";
import { BUNDLE_FILES, type BundlePart, type Manifest, WEIGHT_SOURCES } from "./manifest.ts";
import { UserError } from "../core/user_error.ts";

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

/** The bundle has no encoder, so photos cannot be encoded. */
export class NoEncoderError extends UserError {
  override name = "NoEncoderError";
}

/** The bundle has no vector-Jacobian products, so no gradient steps can be taken. */
export class NoGradientsError extends UserError {
  override name = "NoGradientsError";
}

/** The error of encoding with a bundle that has no encoder. */
export function noEncoderError(): NoEncoderError {
  return new NoEncoderError(
    "this model has no encoder, so photos cannot be encoded (export it with deno task export " +
      "--encoder <run of deno task train:encoder>); give seeds or latents instead.",
  );
}

/**
 * The error of gradient steps with a bundle without the head's and tail's
 * VJPs (`vjp`), or, for Langevin dynamics, without the energy model (`energy`).
 */
export function noGradientsError(needs: "vjp" | "energy"): NoGradientsError {
  return new NoGradientsError(
    needs === "vjp"
      ? "this model has no gradient files (head_vjp.onnx, tail_vjp.onnx); re-export it with " +
        "this version's deno task export."
      : "this model has no energy model (energy.onnx): it is a baseline, or was exported " +
        "before this version of deno task export.",
  );
}

/** The head, tail, and (when the bundle has them) encoder, VJPs and energy model of one bundle, ready to run. */
export class GeneratorSessions {
  readonly manifest: Manifest;
  readonly #head: ort.InferenceSession;
  readonly #tail: ort.InferenceSession;
  readonly #encoder: ort.InferenceSession | null;
  readonly #vjp: { head: ort.InferenceSession; tail: ort.InferenceSession } | null;
  readonly #energy: ort.InferenceSession | null;

  private constructor(
    manifest: Manifest,
    head: ort.InferenceSession,
    tail: ort.InferenceSession,
    encoder: ort.InferenceSession | null,
    vjp: { head: ort.InferenceSession; tail: ort.InferenceSession } | null,
    energy: ort.InferenceSession | null,
  ) {
    this.manifest = manifest;
    this.#head = head;
    this.#tail = tail;
    this.#encoder = encoder;
    this.#vjp = vjp;
    this.#energy = energy;
  }

  /** Opens the bundle's sessions and checks their shapes; throws {@link BundleError}. */
  static async open(bundle: Bundle, options: SessionOptions = {}): Promise<GeneratorSessions> {
    configureRuntime(options.threads ?? 1);
    const { manifest } = bundle;
    const { channels, height, width } = manifest.target;
    const maps = ["N", channels, height, width];
    const image = ["N", 3, manifest.resolution, manifest.resolution];
    const opened: ort.InferenceSession[] = [];
    try {
      // The halves are checked before the VJPs open, which read their weights.
      const head = await createSession(bundle, "head");
      opened.push(head);
      checkPartShape(
        bundle,
        "head",
        "input",
        head.inputMetadata,
        ["N", manifest.latent],
        "latent z",
      );
      checkPartShape(bundle, "head", "output", head.outputMetadata, maps, "target-layer maps");
      const tail = await createSession(bundle, "tail");
      opened.push(tail);
      checkPartShape(bundle, "tail", "input", tail.inputMetadata, maps, "target-layer maps");
      checkPartShape(bundle, "tail", "output", tail.outputMetadata, image, "image");
      const encoder = bundle.encoder ? await createSession(bundle, "encoder") : null;
      if (encoder) {
        opened.push(encoder);
        checkPartShape(bundle, "encoder", "input", encoder.inputMetadata, image, "image");
        const z = ["N", manifest.latent];
        checkPartShape(bundle, "encoder", "output", encoder.outputMetadata, z, "latent z");
      }
      let vjp = null;
      if (bundle.headVjp && bundle.tailVjp) {
        const headVjp = await createSession(bundle, "headVjp");
        opened.push(headVjp);
        const tailVjp = await createSession(bundle, "tailVjp");
        opened.push(tailVjp);
        vjp = { head: headVjp, tail: tailVjp };
      }
      const energy = bundle.energy ? await createSession(bundle, "energy") : null;
      if (energy) opened.push(energy);
      return new GeneratorSessions(manifest, head, tail, encoder, vjp, energy);
    } catch (error) {
      await Promise.all(opened.map((session) => session.release()));
      throw error;
    }
  }

  /** Whether the bundle has an encoder. */
  get hasEncoder(): boolean {
    return this.#encoder !== null;
  }

  /** Images [n, 3, S, S] in [-1, 1] -> latents [n, Z]; throws {@link NoEncoderError}. */
  encode(images: Float32Array, n: number): Promise<Float32Array> {
    if (!this.#encoder) throw noEncoderError();
    const s = this.manifest.resolution;
    return run(this.#encoder, images, [n, 3, s, s]);
  }

  /** Whether the bundle has the generator's vector-Jacobian products (gradient steps in z). */
  get hasGradients(): boolean {
    return this.#vjp !== null;
  }

  /** z [n, Z] and u [n, M, H, W] -> J_head(z)^T u [n, Z]; throws {@link NoGradientsError}. */
  headVjp(latents: Float32Array, upstream: Float32Array, n: number): Promise<Float32Array> {
    const { channels, height, width } = this.manifest.target;
    return runWith(this.#gradients().head, {
      z: [latents, [n, this.manifest.latent]],
      u: [upstream, [n, channels, height, width]],
    });
  }

  /** maps [n, M, H, W] and u [n, 3, S, S] -> J_tail(maps)^T u [n, M, H, W]. */
  tailVjp(maps: Float32Array, upstream: Float32Array, n: number): Promise<Float32Array> {
    const { channels, height, width } = this.manifest.target;
    const s = this.manifest.resolution;
    return runWith(this.#gradients().tail, {
      maps: [maps, [n, channels, height, width]],
      u: [upstream, [n, 3, s, s]],
    });
  }

  /**
   * g_W [n] and its gradient [n, M, H, W] at maps [n, M, H, W]; throws
   * {@link NoGradientsError} without energy.onnx.
   */
  async energy(
    maps: Float32Array,
    n: number,
  ): Promise<{ energy: Float32Array; grad: Float32Array }> {
    if (!this.#energy) throw noGradientsError("energy");
    const { channels, height, width } = this.manifest.target;
    const feeds = { maps: new ort.Tensor("float32", maps, [n, channels, height, width]) };
    try {
      const out = await this.#energy.run(feeds);
      return { energy: out.energy.data as Float32Array, grad: out.maps_grad.data as Float32Array };
    } finally {
      feeds.maps.dispose();
    }
  }

  #gradients(): { head: ort.InferenceSession; tail: ort.InferenceSession } {
    if (!this.#vjp) throw noGradientsError("vjp");
    return this.#vjp;
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

  /** Frees the sessions. */
  async release(): Promise<void> {
    await Promise.all([
      this.#head.release(),
      this.#tail.release(),
      this.#encoder?.release(),
      this.#vjp?.head.release(),
      this.#vjp?.tail.release(),
      this.#energy?.release(),
    ]);
  }
}

function run(
  session: ort.InferenceSession,
  data: Float32Array,
  dims: number[],
): Promise<Float32Array> {
  return runWith(session, { [session.inputNames[0]]: [data, dims] });
}

/** Runs `session` on named inputs; returns its first output. */
async function runWith(
  session: ort.InferenceSession,
  inputs: Record<string, [Float32Array, number[]]>,
): Promise<Float32Array> {
  const feeds = Object.fromEntries(
    Object.entries(inputs).map((
      [name, [data, dims]],
    ) => [name, new ort.Tensor("float32", data, dims)]),
  );
  try {
    const outputs = await session.run(feeds);
    return outputs[session.outputNames[0]].data as Float32Array;
  } finally {
    for (const tensor of Object.values(feeds)) tensor.dispose();
  }
}

function fileOf(bundle: Bundle, part: BundlePart): string {
  const url = new URL(bundle.manifest.files[part]?.path ?? BUNDLE_FILES[part], bundle.location);
  return url.protocol === "file:" ? fileURLToPath(url) : url.href;
}

/**
 * The newest session creation of this realm. Creations run one at a time:
 * onnxruntime-web keeps the external data files they are given in one table
 * per realm and empties it when any creation ends, so two at once would read
 * each other's files (a VJP would take another bundle's weights).
 */
let lastCreation: Promise<unknown> = Promise.resolve();

async function createSession(bundle: Bundle, part: BundlePart) {
  const source = (WEIGHT_SOURCES as Partial<Record<BundlePart, BundlePart>>)[part];
  const options: ort.InferenceSession.SessionOptions = source && bundle[source]
    ? { externalData: [{ path: BUNDLE_FILES[source], data: bundle[source] }] }
    : {};
  const create = () => ort.InferenceSession.create(bundle[part]!, options);
  const creation = lastCreation.then(create, create);
  lastCreation = creation.catch(() => {});
  try {
    return await creation;
  } catch (error) {
    const reads = source && bundle[source]
      ? ` (it reads its weights from ${BUNDLE_FILES[source]}, which must come from the same export)`
      : "";
    throw new BundleError(
      fileOf(bundle, part),
      `onnxruntime cannot load it${reads}: ${(error as Error).message}`,
    );
  }
}

function checkPartShape(
  bundle: Bundle,
  part: BundlePart,
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
        "layer's maps, the encoder must map images to latents, and the manifest must describe " +
        "every file.",
    );
  }
}
