/**
 * A training run's generator as a model bundle the server loads:
 *
 *   <out>/head.onnx      z -> target-layer maps (after the ReLU)
 *   <out>/tail.onnx      target-layer maps -> image in [-1, 1]
 *   <out>/head_vjp.onnx  z, u -> J_head^T u; tail_vjp.onnx the same for the tail (gradient steps)
 *   <out>/energy.onnx    maps -> g_W, dg_W/dmaps (interpretable runs; Langevin refinement)
 *   <out>/encoder.onnx   image -> z, with `--encoder` (an encoder run for this checkpoint)
 *   <out>/manifest.json  concept groups, training summary, concept metrics, SHA-256s
 *
 * The concept groups are the run's trained partition (interpretable runs) or
 * a GMM fitted now (baselines), measured as `deno task eval:concepts` does.
 * The written bundle is read back and opened with onnxruntime before the
 * export reports success.
 *
 * @module
 */

import { basename, join, resolve } from "node:path";
import { RandomStream } from "../engine/random.ts";
import type { TrainConfig } from "../config.ts";
import { GanGenerator, TARGET_LAYER } from "../networks/generator.ts";
import {
  chosenCheckpoint,
  listCheckpoints,
  openRun,
  readCheckpoint,
  readHashedCheckpoint,
  readRunConfig,
} from "../run_folder.ts";
import {
  checkpointConfig,
  checkpointState,
  hasAverage,
  loadServingGenerator,
} from "../checkpoint.ts";
import { evaluateRun, groupCount, type RunEvaluation } from "../eval/evaluate.ts";
import { groupColor } from "../../core/concept_map.ts";
import { segmenterForRun } from "../eval/segmenter.ts";
import { FACE_PARTS } from "../data/synthetic.ts";
import { writeFileAtomic, writeTextFileAtomic } from "../atomic_file.ts";
import {
  BUNDLE_FILES,
  BUNDLE_FORMAT,
  type EnergyInfo,
  type Manifest,
} from "../../model/manifest.ts";
import { type Bundle, readBundle } from "../../model/bundle.ts";
import { sha256Hex } from "../../core/sha256.ts";
import { GeneratorSessions } from "../../model/sessions.ts";
import { ServedModel } from "../../model/model.ts";
import { reconstructPhotos } from "../../model/refine.ts";
import { generatorOnnx } from "./generator_onnx.ts";
import type { WeightPrecision } from "./onnx.ts";
import {
  DEFAULT_FACE_IMAGES,
  evaluateFaces,
  manifestWithFaces,
  readRealFaceSet,
} from "../../faces/evaluate.ts";
import type { SwapMode } from "../../model/swap.ts";
import type { FaceAnalyzer } from "../../faces/analyzer.ts";
import { type ReconstructionFigures, reconstructionFigures } from "../../faces/reconstruction.ts";
import { ENCODER_RUN_KIND, type EncoderConfig } from "../encoder/config.ts";
import { encoderCheckpointConfig, loadEncoderWeights } from "../encoder/trainer.ts";
import { holdoutPhotos } from "../encoder/train.ts";
import { loadTrainingData } from "../data/load.ts";
import { GanEncoder } from "../networks/encoder.ts";
import { encoderOnnx } from "./encoder_onnx.ts";
import { energyOnnx } from "./energy_onnx.ts";
import { ENERGY_WEIGHT } from "../interpretable/module.ts";
import type { Safetensors } from "../safetensors.ts";
import { defaultIdentities, IdentityListError } from "../../faces/verification.ts";
import { RealFacesError } from "../../faces/real_faces.ts";
import { openFaceApi } from "../../faces/face_api.ts";
import { UserError } from "../../core/user_error.ts";

/** The version of the export code, written into the ONNX files. */
export const EXPORTER_VERSION = "1";

/** Options of {@link exportBundle}. */
export interface ExportOptions {
  /** The run folder. */
  run: string;
  /** A checkpoint file of the run; default its newest. */
  checkpoint?: string;
  /**
   * Export the trained generator's weights even when the run keeps an
   * average of them (which export takes otherwise); for comparing the two.
   */
  trainedWeights?: boolean;
  /** The bundle folder to write: new, empty, or (with `replace`) holding a bundle to replace. */
  out: string;
  /** Write over the bundle `out` holds (its bundle files are replaced). */
  replace?: boolean;
  /** Model name; default the run folder's name. */
  name?: string;
  /** Model version; default `step-<N>`. */
  version?: string;
  /** Replaces the generated description. */
  description?: string;
  /** Part names of groups, by group id (override the synthetic segmenter's). */
  labels?: Record<number, string>;
  /** Ids of the groups that make up the face (override the synthetic segmenter's). */
  face?: number[];
  /** Generated images the groups and metrics are measured on (default 64). */
  images?: number;
  /** C for a baseline's GMM (default 24). */
  groups?: number;
  /**
   * Label groups with a part segmenter trained for the run (runs on the
   * synthetic faces only; default true). It takes about a minute on a CPU.
   */
  partLabels?: boolean;
  /**
   * For runs on a folder of faces: measure the written bundle with
   * `eval:faces` (`faces/evaluate.ts`), name its groups from landmark parts
   * (hand labels and `face` win) and store every figure in the manifest
   * (default true; takes minutes at the default N and P).
   */
  faces?: boolean;
  /**
   * The swap mode of that measurement (default "groups"); the manifest
   * records it, and the swap endpoints default to it for this model.
   */
  swapMode?: SwapMode;
  /** The same for face swaps alone (default: as `swapMode`). */
  faceSwapMode?: SwapMode;
  /** N and P of that measurement (defaults those of `eval:faces`). */
  faceImages?: number;
  facePairs?: number;
  /** The identity list of the run's data folder (default `<data>-identity.txt` beside it). */
  identities?: string;
  /**
   * An encoder run (`deno task train:encoder`) for the exported checkpoint:
   * its newest checkpoint goes into the bundle as `encoder.onnx`, measured on
   * its held-out photos with the face measurement.
   */
  encoder?: string;
  /**
   * How the ONNX files store their weights (default "f16": half the size;
   * "f32" keeps the trained values exactly).
   */
  weights?: WeightPrecision;
  /** Status lines for the console. */
  onStatus?: (line: string) => void;
  /** Progress of the face measurement. */
  onProgress?: (stage: string, done: number, total: number) => void;
}

/** A user-facing export failure. */
export class ExportError extends UserError {
  override name = "ExportError";
}

/** Parts of the synthetic faces that belong to the face (not background or hair). */
const SYNTHETIC_FACE_PARTS: ReadonlySet<string> = new Set(
  FACE_PARTS.filter((p) => p !== "background" && p !== "hair"),
);

/** The command-line flag of each option of the face measurement. */
const FACE_MEASUREMENT_FLAGS = {
  identities: "--identities",
  faceImages: "--face-images",
  facePairs: "--face-pairs",
  swapMode: "--swap-mode",
  faceSwapMode: "--face-swap-mode",
} as const;

/**
 * Throws {@link ExportError} for an option of the face measurement on a run
 * that gets none: faces are measured against a run's folder of photos.
 */
function checkFaceOptions(options: ExportOptions, config: TrainConfig): void {
  if (config.data.kind === "folder") {
    // (With the face measurement off too, as eval:faces --run exports, neither names groups.)
    if (options.partLabels === false && options.faces !== false) {
      throw new ExportError(
        "--no-part-labels skips the synthetic faces' part segmenter, which a run on a folder of " +
          "faces does not use (its groups are named by the face measurement: --no-faces skips " +
          "that); leave it out.",
      );
    }
    return;
  }
  const given = (Object.keys(FACE_MEASUREMENT_FLAGS) as (keyof typeof FACE_MEASUREMENT_FLAGS)[])
    .find((option) => options[option] !== undefined);
  if (given) {
    throw new ExportError(
      `${FACE_MEASUREMENT_FLAGS[given]} sets the face measurement, which a run on ` +
        `${config.data.kind} data does not get (faces are measured against a folder of photos); ` +
        "leave it out.",
    );
  }
}

/**
 * Refuses, before anything is written, a face measurement that the run's
 * folder of faces cannot give: too few images (it takes 2N real faces), or
 * no identity list of them.
 */
async function checkRealFaces(options: ExportOptions, config: TrainConfig): Promise<void> {
  if (config.data.kind !== "folder" || options.faces === false) return;
  try {
    await readRealFaceSet(
      config.data.path,
      options.identities ?? defaultIdentities(config.data.path),
      { n: options.faceImages ?? DEFAULT_FACE_IMAGES, flag: "--face-images" },
    );
  } catch (error) {
    if (!(error instanceof RealFacesError || error instanceof IdentityListError)) throw error;
    throw new ExportError(`${error.message.replace(/\.$/, "")}; --no-faces skips the measurement.`);
  }
}

/**
 * Refuses an `out` folder whose files an export would write over or mix with:
 * one that holds a bundle (unless `replace`), or anything else; a missing or
 * empty folder is fine.
 */
async function checkOutFolder(out: string, replace: boolean): Promise<void> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(out)) names.push(entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    if (error instanceof Deno.errors.NotADirectory) {
      throw new ExportError(`--out ${out} is a file; give a folder for the bundle.`);
    }
    throw error;
  }
  if (names.length === 0) return;
  if (!names.includes("manifest.json")) {
    throw new ExportError(
      `--out ${out} is not empty and holds no bundle; export into a new or empty folder.`,
    );
  }
  if (!replace) {
    throw new ExportError(
      `--out ${out} holds a bundle already; give --replace to write over it, or another folder.`,
    );
  }
}

/** Writes the bundle of `options.run` to `options.out`; returns it as read back. */
export async function exportBundle(options: ExportOptions): Promise<Bundle> {
  const status = options.onStatus ?? (() => {});
  const { run } = await openRun(options.run);
  const file = await chosenCheckpoint(run, options.checkpoint, "export");
  const { checkpoint, sha256: checkpointSha256 } = await readHashedCheckpoint(file);
  const state = checkpointState(checkpoint);
  // A --checkpoint from elsewhere (another run, a committed file) is described by its own config.
  const config = checkpointConfig(checkpoint, file);
  checkGroupIds(options, groupCount(config, options.groups));
  checkFaceOptions(options, config);
  await checkRealFaces(options, config);
  // What can be wrong with the command's other inputs shows before minutes of measuring.
  const encoder = options.encoder
    ? await encoderForExport(
      options.encoder,
      { file, sha256: checkpointSha256 },
      options.trainedWeights ?? false,
      options.weights,
    )
    : null;
  await checkOutFolder(options.out, options.replace ?? false);
  await Deno.mkdir(options.out, { recursive: true });
  const probe = join(options.out, `.write-test-${crypto.randomUUID()}`);
  await Deno.writeFile(probe, new Uint8Array()); // an unwritable --out shows before the measuring
  await Deno.remove(probe);

  const trained = options.partLabels === false ? null : await segmenterForRun(config);
  if (trained) status(`part segmenter for group labels: final loss ${trained.loss.toFixed(3)}`);
  status(`measuring concept groups on ${options.images ?? 64} generated images ...`);
  let evaluation: RunEvaluation;
  try {
    evaluation = await evaluateRun(options.run, {
      checkpoint: { ...checkpoint, file },
      trainedWeights: options.trainedWeights,
      images: options.images,
      groups: options.groups,
      segmenter: trained?.segmenter,
    });
  } finally {
    trained?.segmenter.dispose();
  }

  const generator = new GanGenerator(new RandomStream(0), config.network);
  let onnx;
  try {
    loadServingGenerator(generator, checkpoint, options);
    const name = options.name ?? basename(run.dir);
    onnx = await generatorOnnx(generator, {
      doc: `${name}: the generator of ${basename(file)}, split at its target layer`,
      producerVersion: EXPORTER_VERSION,
      metadata: { run: basename(run.dir), checkpoint: basename(file) },
    }, options.weights);
  } finally {
    generator.dispose();
  }

  const energy = energyForExport(config, checkpoint, basename(file), options.weights);
  const manifest = buildManifest(options, config, evaluation, {
    steps: state.step,
    ema: hasAverage(checkpoint) && !options.trainedWeights,
    seconds: state.seconds,
    // Checkpoints written before adapters were recorded do not say where they trained.
    hardware: state.hardware ?? ["unknown (the checkpoint predates adapter records)"],
    head: sha256Hex(onnx.head),
    tail: sha256Hex(onnx.tail),
    headVjp: sha256Hex(onnx.headVjp),
    tailVjp: sha256Hex(onnx.tailVjp),
    energy: energy && { ...energy.info, sha256: sha256Hex(energy.onnx) },
    encoder: encoder && { ...encoder.info, sha256: sha256Hex(encoder.onnx) },
  });
  // The manifest goes last: a bundle interrupted mid-write fails its hash check.
  await writeFileAtomic(join(options.out, BUNDLE_FILES.head), onnx.head);
  await writeFileAtomic(join(options.out, BUNDLE_FILES.tail), onnx.tail);
  await writeFileAtomic(join(options.out, BUNDLE_FILES.headVjp), onnx.headVjp);
  await writeFileAtomic(join(options.out, BUNDLE_FILES.tailVjp), onnx.tailVjp);
  if (energy) await writeFileAtomic(join(options.out, BUNDLE_FILES.energy), energy.onnx);
  else await Deno.remove(join(options.out, BUNDLE_FILES.energy)).catch(() => {});
  if (encoder) await writeFileAtomic(join(options.out, BUNDLE_FILES.encoder), encoder.onnx);
  else await Deno.remove(join(options.out, BUNDLE_FILES.encoder)).catch(() => {});
  await writeTextFileAtomic(
    join(options.out, BUNDLE_FILES.manifest),
    JSON.stringify(manifest, null, 2) + "\n",
  );
  const bundle = await readBundle(options.out);
  const sessions = await GeneratorSessions.open(bundle);
  await sessions.release();
  if (config.data.kind !== "folder" || options.faces === false) return bundle;
  status(`measuring faces (eval:faces) against ${config.data.path} ...`);
  const analyzer = await openFaceApi();
  let measured: Manifest;
  try {
    const faces = await evaluateFaces(bundle, analyzer, {
      data: config.data.path,
      identities: options.identities ?? defaultIdentities(config.data.path),
      images: options.faceImages,
      pairs: options.facePairs,
      labels: options.labels,
      face: options.face,
      swapMode: options.swapMode,
      faceSwapMode: options.faceSwapMode,
      onProgress: options.onProgress,
    });
    measured = manifestWithFaces(manifest, faces);
    if (encoder && measured.encoder) {
      status(`measuring the encoder on its ${encoder.config.holdout} held-out photos ...`);
      measured.encoder.holdout = await measureEncoder(
        bundle,
        analyzer,
        encoder.config,
        faces.identity?.threshold ?? null,
      );
    }
  } catch (error) {
    if (!(error instanceof RealFacesError || error instanceof IdentityListError)) throw error;
    throw new ExportError(
      `${options.out} was written, without face figures or names: ` +
        `${error.message.replace(/\.$/, "")}; --no-faces skips the measurement.`,
    );
  } finally {
    analyzer.dispose();
  }
  await writeTextFileAtomic(
    join(options.out, BUNDLE_FILES.manifest),
    JSON.stringify(measured, null, 2) + "\n",
  );
  return await readBundle(options.out);
}

/** An interpretable run's energy model as ONNX (null for a baseline). */
function energyForExport(
  config: TrainConfig,
  checkpoint: Safetensors,
  checkpointName: string,
  precision: WeightPrecision | undefined,
): { onnx: Uint8Array; info: EnergyInfo } | null {
  const c = config.interpretable;
  const trained = checkpointState(checkpoint).interpretability;
  const weight = checkpoint.tensors[ENERGY_WEIGHT];
  if (!c || !trained || !weight) return null;
  const half = config.network.resolution / 2;
  const onnx = energyOnnx({
    weight: weight.data,
    assignment: trained.assignment,
    groups: c.groups,
    maps: [config.network.targetChannels, half, half],
    pool: c.energyPool,
    normalize: c.energyNormalize,
  }, {
    doc: `g_W of ${checkpointName} and its gradient in the target layer's maps`,
    producerVersion: EXPORTER_VERSION,
  }, precision);
  return {
    onnx,
    info: {
      pool: c.energyPool,
      normalize: c.energyNormalize,
      priorSigma: c.priorSigma,
      steps: c.langevinSteps,
      stepSize: c.langevinStepSize,
    },
  };
}

/** An encoder run's newest checkpoint as ONNX, after checking it belongs to `gan` (the exported one). */
async function encoderForExport(
  dir: string,
  gan: { file: string; sha256: string },
  trainedWeights: boolean,
  precision: WeightPrecision | undefined,
): Promise<{ onnx: Uint8Array; config: EncoderConfig; info: EncoderFacts }> {
  const { run, json } = await readRunConfig(dir);
  if ((json as { kind?: unknown }).kind !== ENCODER_RUN_KIND) {
    throw new ExportError(`${dir} is not an encoder run (deno task train:encoder).`);
  }
  const newest = (await listCheckpoints(run)).at(-1);
  if (!newest) throw new ExportError(`the encoder run ${dir} has no checkpoint yet.`);
  const checkpoint = await readCheckpoint(newest.file);
  const config = encoderCheckpointConfig(checkpoint);
  if (gan.sha256 !== config.generator.sha256) {
    throw new ExportError(
      `the encoder run ${dir} was trained for ${config.generator.checkpoint}, not for ` +
        `${gan.file}; export that checkpoint (--checkpoint), or train an encoder for this one.`,
    );
  }
  if (config.generator.trainedWeights !== trainedWeights) {
    throw new ExportError(
      `the encoder run ${dir} inverts the ${
        config.generator.trainedWeights ? "trained weights" : "weight average"
      } of its generator; export with${
        config.generator.trainedWeights ? "" : "out"
      } --trained-weights.`,
    );
  }
  const encoder = new GanEncoder(new RandomStream(0), {
    resolution: config.network.resolution,
    width: config.width,
    latent: config.network.latent,
  });
  try {
    loadEncoderWeights(encoder, checkpoint);
    const onnx = await encoderOnnx(encoder, {
      doc: `the encoder of ${basename(run.dir)}, ${basename(newest.file)}`,
      producerVersion: EXPORTER_VERSION,
      metadata: { run: basename(run.dir), checkpoint: basename(newest.file) },
    }, precision);
    const steps = (JSON.parse(checkpoint.metadata.state) as { step: number }).step;
    return {
      onnx,
      config,
      info: { run: basename(run.dir), steps, width: config.width, heldOut: config.holdout },
    };
  } finally {
    encoder.dispose();
  }
}

/** The bundle's encoder, head and tail on the encoder run's held-out photos, measured. */
async function measureEncoder(
  bundle: Bundle,
  analyzer: FaceAnalyzer,
  config: EncoderConfig,
  threshold: number | null,
): Promise<ReconstructionFigures> {
  const s = config.network.resolution, n = config.holdout;
  const set = await loadTrainingData(config.data, s, undefined);
  const photos = holdoutPhotos(set, n);
  const model = await ServedModel.load(bundle.location, {
    threads: 1,
    maxBatch: RECONSTRUCTION_BATCH,
    maxQueuedRows: RECONSTRUCTION_BATCH,
  });
  try {
    const { images } = await reconstructPhotos(
      model,
      photos,
      n,
      { refine: 0, fit: 0 },
      new AbortController().signal,
    );
    return await reconstructionFigures(analyzer, photos, images, n, s, threshold);
  } finally {
    await model.release();
  }
}

/** Photos per onnxruntime run when measuring the encoder. */
const RECONSTRUCTION_BATCH = 50;

function checkGroupIds(options: ExportOptions, groups: number): void {
  const ids = [...Object.keys(options.labels ?? {}).map(Number), ...(options.face ?? [])];
  const bad = ids.find((id) => !(Number.isInteger(id) && id >= 0 && id < groups));
  if (bad !== undefined) {
    throw new ExportError(`group ${bad} does not exist: the groups are 0..${groups - 1}.`);
  }
}

/** What the manifest says of an encoder before it is measured. */
export interface EncoderFacts {
  run: string;
  steps: number;
  width: number;
  /** The last images of its data that it never trained on. */
  heldOut: number;
}

/** What the manifest needs from the checkpoint and the written files. */
export interface ExportFacts {
  /** The energy model, for interpretable runs. */
  energy?: (EnergyInfo & { sha256: string }) | null;
  /** The encoder, when the bundle gets one. */
  encoder?: (EncoderFacts & { sha256: string }) | null;
  steps: number;
  /** Whether the exported weights are the run's average of the generator's weights. */
  ema: boolean;
  seconds: number;
  hardware: string[];
  head: string;
  tail: string;
  headVjp: string;
  tailVjp: string;
}

/** The manifest of an export (pure: everything measured or written is passed in). */
export function buildManifest(
  options: ExportOptions,
  config: TrainConfig,
  evaluation: RunEvaluation,
  facts: ExportFacts,
): Manifest {
  const { network } = config;
  const { metrics, assignment } = evaluation;
  const half = network.resolution / 2;
  const partOf = new Map(metrics.purity?.map((p) => [p.group, p.part]));
  const groups = metrics.groupSizes.map((size, id) => {
    const [r, g, b] = groupColor(id);
    return {
      id,
      channels: assignment.flatMap((group, channel) => (group === id ? [channel] : [])),
      color: `#${[r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("")}`,
      label: options.labels?.[id] ?? partOf.get(id) ?? null,
      share: size / network.targetChannels,
      peak: evaluation.groupPeaks[id],
    };
  }).filter((group) => group.channels.length > 0);
  const renumber = new Map(groups.map((group, index) => [group.id, index]));
  const face = options.face ??
    (metrics.purity
      ? metrics.purity.filter((p) => SYNTHETIC_FACE_PARTS.has(p.part)).map((p) => p.group)
      : null);
  // The folder's name alone: a manifest is served to anyone, and a path says whose machine it was.
  const data = config.data.kind === "folder"
    ? `images of a folder named ${basename(resolve(config.data.path))}`
    : `${config.data.count} synthetic cartoon faces (seed ${config.data.seed})`;
  const hours = (facts.seconds / 3600).toFixed(1);
  const recipe = [
    `${network.architecture} generator of width ${network.width}`,
    `M = ${network.targetChannels}`,
    evaluation.kind === "interpretable" ? `C = ${groups.length}` : null,
    `batch ${config.batch}`,
    config.augment.length > 0 ? `DiffAugment ${config.augment.join("+")}` : null,
    facts.ema ? "weight average" : null,
  ].filter((part) => part !== null).join(", ");
  const description = options.description ??
    `${evaluation.kind === "interpretable" ? "Interpretable" : "Baseline"} GAN, ` +
      `${network.resolution}x${network.resolution} (${recipe}), trained on ${data}: ` +
      `${facts.steps} of ${config.steps} steps in ${hours} h` +
      (config.initFrom
        ? `, fine-tuned from ${config.initFrom}` +
          (config.initDiscriminator ? " with its discriminator." : ".")
        : ".") +
      (config.freezeHead
        ? " Its last steps trained the generator's tail alone, the head frozen at its average."
        : "");
  return {
    format: BUNDLE_FORMAT,
    model: {
      name: options.name ?? basename(options.run.replace(/\/+$/, "")),
      version: options.version ?? `step-${facts.steps}`,
      description,
    },
    resolution: network.resolution,
    latent: network.latent,
    target: {
      layer: TARGET_LAYER,
      channels: network.targetChannels,
      height: half,
      width: half,
      channelPeaks: Array.from(evaluation.channelPeaks),
    },
    // Empty groups are dropped; ids are renumbered densely in the same order.
    groups: groups.map((group, index) => ({ ...group, id: index })),
    face: face?.flatMap((id) => (renumber.has(id) ? [renumber.get(id)!] : [])) ?? null,
    training: {
      kind: evaluation.kind,
      partition: evaluation.partition,
      data,
      steps: facts.steps,
      plannedSteps: config.steps,
      seconds: facts.seconds,
      hardware: facts.hardware,
      ema: facts.ema,
    },
    metrics: {
      images: options.images ?? 64,
      consistency: metrics.consistency,
      separation: metrics.separation,
      purity: metrics.meanPurity ?? null,
      groupConsistency: groups.map((group) => metrics.groupConsistency[group.id]),
    },
    energy: facts.energy
      ? {
        pool: facts.energy.pool,
        normalize: facts.energy.normalize,
        priorSigma: facts.energy.priorSigma,
        steps: facts.energy.steps,
        stepSize: facts.energy.stepSize,
      }
      : null,
    encoder: facts.encoder
      ? {
        run: facts.encoder.run,
        steps: facts.encoder.steps,
        width: facts.encoder.width,
        heldOut: facts.encoder.heldOut,
        holdout: null,
      }
      : null,
    files: {
      head: { path: BUNDLE_FILES.head, sha256: facts.head },
      tail: { path: BUNDLE_FILES.tail, sha256: facts.tail },
      headVjp: { path: BUNDLE_FILES.headVjp, sha256: facts.headVjp },
      tailVjp: { path: BUNDLE_FILES.tailVjp, sha256: facts.tailVjp },
      ...(facts.energy
        ? { energy: { path: BUNDLE_FILES.energy, sha256: facts.energy.sha256 } }
        : {}),
      ...(facts.encoder
        ? { encoder: { path: BUNDLE_FILES.encoder, sha256: facts.encoder.sha256 } }
        : {}),
    },
  };
}
