/**
 * A model bundle being served: its manifest, its onnxruntime sessions behind
 * the {@link InferenceScheduler}, and the lookups requests need (concept
 * groups by id, label or `face`; each channel's group).
 *
 * @module
 */

import { type Bundle, readBundle } from "./bundle.ts";
import { sha256Hex } from "../core/sha256.ts";
import { channelGroups, type ConceptGroup, type Manifest } from "./manifest.ts";
import {
  type BatchRunner,
  InferenceScheduler,
  type SchedulerOptions,
  type SchedulerStats,
} from "./scheduler.ts";
import { GeneratorSessions, noEncoderError, noGradientsError } from "./sessions.ts";
import { UserError } from "../core/user_error.ts";

/** Options of {@link ServedModel.load}. */
export interface ServedModelOptions extends SchedulerOptions {
  /** onnxruntime wasm threads. */
  threads: number;
}

/** A concept name that is not a group id, a group label, or `face` (when known). */
export class UnknownConceptError extends UserError {
  override name = "UnknownConceptError";
}

/**
 * The version of how this server draws a model's pictures (swap regions,
 * colours, layouts), part of every ETag: raised whenever a picture of the
 * same model and URL changes, so that cached copies of the old one are
 * not reused (2: a "region" swap reaches the source's part only near the
 * target's; 3: a group's pieces far from its strongest one are left out).
 */
export const PICTURES_VERSION = 3;

/** A bundle's generator, ready to serve. */
export class ServedModel {
  readonly manifest: Manifest;
  /** Each target-layer channel's group id. */
  readonly assignment: Int32Array;
  /**
   * An id of what a URL's answer depends on, for ETags: the whole manifest
   * (the groups, names and modes requests resolve against, and the ONNX
   * files' hashes) and {@link PICTURES_VERSION}.
   */
  readonly contentId: string;
  /** The bundle's ONNX files, which clients may run themselves (null for a stand-in model). */
  readonly files: Omit<Bundle, "location" | "manifest"> | null;
  readonly #release: () => Promise<void>;
  readonly #scheduler: InferenceScheduler;
  #inferenceMs = 0;

  private constructor(
    manifest: Manifest,
    run: BatchRunner,
    release: () => Promise<void>,
    options: SchedulerOptions,
    files: ServedModel["files"],
  ) {
    this.manifest = manifest;
    this.files = files;
    this.#release = release;
    this.#scheduler = new InferenceScheduler(async (kind, input, rows) => {
      const t0 = performance.now();
      try {
        return await run(kind, input, rows);
      } finally {
        this.#inferenceMs += performance.now() - t0;
      }
    }, options);
    this.assignment = channelGroups(manifest);
    this.contentId = sha256Hex(`${PICTURES_VERSION}\n${JSON.stringify(manifest)}`).slice(0, 32);
  }

  /** Reads, verifies and opens the bundle in `folder`; throws `BundleError`. */
  static async load(folder: string | URL, options: ServedModelOptions): Promise<ServedModel> {
    const bundle = await readBundle(folder);
    const sessions = await GeneratorSessions.open(bundle, { threads: options.threads });
    return ServedModel.fromRunner(
      bundle.manifest,
      (kind, input, rows) => {
        switch (kind) {
          case "head":
            return sessions.head(input, rows);
          case "tail":
            return sessions.tail(input, rows);
          case "encoder":
            return sessions.encode(input, rows);
          case "headVjp":
            return sessions.headVjp(...splitRows(input, rows, bundle.manifest.latent), rows);
          case "tailVjp":
            return sessions.tailVjp(...splitRows(input, rows, mapsSize(bundle.manifest)), rows);
          case "energy":
            // Rows [g, dg/dmaps...], as the queue hands out one row per image.
            return sessions.energy(input, rows).then(({ energy, grad }) =>
              joinRows(energy, grad, rows)
            );
        }
      },
      () => sessions.release(),
      options,
      bundle,
    );
  }

  /**
   * The bundle in `folder` without sessions of its own: its manifest and
   * concept lookups, for a process whose render workers run the model.
   */
  static async describe(folder: string | URL, options: SchedulerOptions): Promise<ServedModel> {
    const bundle = await readBundle(folder);
    return ServedModel.fromRunner(
      bundle.manifest,
      () => Promise.reject(new Error("this process draws in its render workers, not itself")),
      () => Promise.resolve(),
      options,
      bundle,
    );
  }

  /**
   * A model whose runs go to `run` (the sessions of {@link load}, or a
   * stand-in with other timing, as tests of time limits use).
   */
  static fromRunner(
    manifest: Manifest,
    run: BatchRunner,
    release: () => Promise<void>,
    options: SchedulerOptions,
    files: ServedModel["files"] = null,
  ): ServedModel {
    return new ServedModel(manifest, run, release, options, files);
  }

  /**
   * Milliseconds spent in runs of the networks since the model was loaded:
   * the difference over a job is its inference time when the model runs one
   * job at a time (as each render lane does).
   */
  get inferenceMs(): number {
    return this.#inferenceMs;
  }

  /** Values of one image's target-layer maps, M x H x W. */
  get mapsSize(): number {
    return mapsSize(this.manifest);
  }

  /** Most images in one run (and in one request). */
  get maxBatch(): number {
    return this.#scheduler.options.maxBatch;
  }

  /** Most images waiting for inference before requests are refused. */
  get maxQueuedImages(): number {
    return this.#scheduler.options.maxQueuedRows;
  }

  /** Queue counters. */
  get stats(): SchedulerStats {
    return this.#scheduler.stats;
  }

  /** Latents [n, Z] -> target-layer maps [n, M, H, W] (queued, possibly batched with others). */
  maps(latents: Float32Array, n: number, signal?: AbortSignal): Promise<Float32Array> {
    return this.#scheduler.submit("head", latents, n, signal);
  }

  /** Whether the bundle has an encoder, so that photos can be encoded. */
  get hasEncoder(): boolean {
    return this.manifest.files.encoder !== undefined;
  }

  /**
   * Photos [n, 3, S, S] in [-1, 1] -> latents [n, Z]; throws
   * `NoEncoderError` at once when the bundle has no encoder.
   */
  encode(images: Float32Array, n: number, signal?: AbortSignal): Promise<Float32Array> {
    if (!this.hasEncoder) return Promise.reject(noEncoderError());
    return this.#scheduler.submit("encoder", images, n, signal);
  }

  /** Whether the bundle has the generator's vector-Jacobian products (gradient steps in z). */
  get hasGradients(): boolean {
    return this.manifest.files.headVjp !== undefined;
  }

  /**
   * J_head(z)^T u [n, Z] for latents [n, Z] and u [n, M, H, W]; a
   * `NoGradientsError` at once when the bundle has no VJPs.
   */
  headVjp(
    latents: Float32Array,
    upstream: Float32Array,
    n: number,
    signal?: AbortSignal,
  ): Promise<Float32Array> {
    if (!this.hasGradients) return Promise.reject(noGradientsError("vjp"));
    return this.#scheduler.submit("headVjp", joinRows(latents, upstream, n), n, signal);
  }

  /**
   * J_tail(maps)^T u [n, M, H, W] for maps [n, M, H, W] and u [n, 3, S, S]; a
   * `NoGradientsError` at once when the bundle has no VJPs.
   */
  tailVjp(
    maps: Float32Array,
    upstream: Float32Array,
    n: number,
    signal?: AbortSignal,
  ): Promise<Float32Array> {
    if (!this.hasGradients) return Promise.reject(noGradientsError("vjp"));
    return this.#scheduler.submit("tailVjp", joinRows(maps, upstream, n), n, signal);
  }

  /** Whether the bundle has the energy model, so that Langevin dynamics can refine images. */
  get hasEnergy(): boolean {
    return this.manifest.files.energy !== undefined && this.hasGradients;
  }

  /** g_W [n] and its gradient [n, M, H, W] at maps [n, M, H, W]. */
  async energy(
    maps: Float32Array,
    n: number,
    signal?: AbortSignal,
  ): Promise<{ energy: Float32Array; grad: Float32Array }> {
    const [energy, grad] = splitRows(await this.#scheduler.submit("energy", maps, n, signal), n, 1);
    return { energy, grad };
  }

  /** Target-layer maps [n, M, H, W] -> images [n, 3, S, S] in [-1, 1]. */
  images(maps: Float32Array, n: number, signal?: AbortSignal): Promise<Float32Array> {
    return this.#scheduler.submit("tail", maps, n, signal);
  }

  /**
   * The groups named by `concepts`: group ids ("3"), labels ("eyes"), or
   * "face" for the manifest's face groups. Throws {@link UnknownConceptError}.
   */
  resolveConcepts(concepts: readonly string[]): ConceptGroup[] {
    const chosen = new Map<number, ConceptGroup>();
    for (const name of concepts) {
      for (const group of this.#resolveConcept(name)) chosen.set(group.id, group);
    }
    return [...chosen.values()].sort((a, b) => a.id - b.id);
  }

  #resolveConcept(name: string): ConceptGroup[] {
    const { groups, face } = this.manifest;
    if (name === "face") {
      if (!face || face.length === 0) {
        throw new UnknownConceptError(
          "this model does not say which groups make up the face; name the groups instead.",
        );
      }
      return face.map((id) => groups[id]);
    }
    if (/^(0|[1-9]\d*)$/.test(name)) {
      const group = groups[Number(name)];
      if (!group) {
        throw new UnknownConceptError(
          `there is no group ${name}: the groups are 0..${groups.length - 1}.`,
        );
      }
      return [group];
    }
    const labelled = groups.filter((g) => g.label === name);
    if (labelled.length === 0) {
      const labels = [...new Set(groups.flatMap((g) => (g.label ? [g.label] : [])))];
      throw new UnknownConceptError(
        `"${name}" is not a group id, a label or "face"` +
          (labels.length > 0 ? ` (labels: ${labels.join(", ")})` : " (this model has no labels)") +
          ".",
      );
    }
    return labelled;
  }

  /** Closes the sessions. */
  release(): Promise<void> {
    return this.#release();
  }
}

/** Values of one image's target-layer maps, M x H x W. */
function mapsSize(manifest: Manifest): number {
  const { channels, height, width } = manifest.target;
  return channels * height * width;
}

/** Rows of `a` [n, ...] and `b` [n, ...] side by side, as one [n, a + b] input of the queue. */
function joinRows(a: Float32Array, b: Float32Array, n: number): Float32Array {
  const sa = a.length / n, sb = b.length / n;
  const out = new Float32Array(a.length + b.length);
  for (let r = 0; r < n; r++) {
    out.set(a.subarray(r * sa, (r + 1) * sa), r * (sa + sb));
    out.set(b.subarray(r * sb, (r + 1) * sb), r * (sa + sb) + sa);
  }
  return out;
}

/** The two halves of {@link joinRows}' rows, the first `firstSize` values of each row first. */
function splitRows(
  input: Float32Array,
  n: number,
  firstSize: number,
): [Float32Array, Float32Array] {
  const row = input.length / n, secondSize = row - firstSize;
  const a = new Float32Array(n * firstSize), b = new Float32Array(n * secondSize);
  for (let r = 0; r < n; r++) {
    a.set(input.subarray(r * row, r * row + firstSize), r * firstSize);
    b.set(input.subarray(r * row + firstSize, (r + 1) * row), r * secondSize);
  }
  return [a, b];
}
