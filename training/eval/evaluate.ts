/**
 * Concept metrics of a run's generator: its target-layer maps for fixed
 * latents, the run's own partition (interpretable runs) or a GMM fitted now
 * (baseline runs), and, for runs on the synthetic faces, part masks of the
 * generated images from a {@link PartSegmenter}.
 *
 * The metrics are measured twice: on the target layer's positions, and on
 * its maps averaged over 2x2 blocks. The second is blind to the 2x2 phase
 * pattern that the stride-2 transposed convolution below the layer prints on
 * every map (visible as speckle in the concept maps), so it measures regions
 * rather than that pattern. A baseline's GMM is fitted separately for each,
 * on unit-RMS maps when asked (`gmmNormalize`), as an interpretable run with
 * `energyNormalize` fits its own.
 *
 * @module
 */

import { RandomStream } from "../engine/random.ts";
import { asyncScope, tensor } from "../engine/tensor.ts";
import { ConfigError, DEFAULT_INTERPRETABLE, type TrainConfig } from "../config.ts";
import { GanGenerator } from "../networks/generator.ts";
import { fitGmm } from "../interpretable/gmm.ts";
import { energyPositions, rmsNormalize } from "../interpretable/energy.ts";
import { chosenCheckpoint, type LoadedCheckpoint, openRun, readCheckpoint } from "../run_folder.ts";
import { checkpointConfig, checkpointState, loadServingGenerator } from "../checkpoint.ts";
import { type ConceptMetrics, conceptMetrics, type PartMasks } from "../../core/concepts.ts";
import type { PartSegmenter } from "./segmenter.ts";
import { conceptMaps } from "../../core/concept_map.ts";
import { channelPeaks, groupCentres } from "../../core/partition.ts";
import { imageGrid, imagesFromPlanar, type RgbImage } from "../../core/image.ts";

/** The evaluation of one run. */
export interface RunEvaluation {
  run: string;
  kind: "interpretable" | "baseline";
  step: number;
  groups: number;
  /** Where the partition comes from. */
  partition: "trained" | "fitted after training";
  /** A fitted partition's GMM saw unit-RMS maps (`gmmNormalize`). */
  gmmNormalized: boolean;
  metrics: ConceptMetrics;
  /** The same metrics on the maps averaged over {@link METRIC_BLOCK} x {@link METRIC_BLOCK} blocks. */
  blockMetrics: ConceptMetrics;
  /** The partition: each target-layer filter's group. */
  assignment: number[];
  /** Each filter's largest map value over the evaluation images. */
  channelPeaks: Float32Array;
  /** Each group centre's largest value over the evaluation images. */
  groupPeaks: Float32Array;
  /** The figure, when asked for. */
  figure?: RgbImage;
}

/** Options of {@link evaluateRun}. */
export interface EvaluateOptions {
  /** A checkpoint file, or one already read; default the run's newest. */
  checkpoint?: string | LoadedCheckpoint;
  /** Generated images the metrics average over (default 64). */
  images?: number;
  /** C for a baseline's GMM (default: the interpretable default, 24). */
  groups?: number;
  /** Seed of the evaluation latents and the baseline's GMM (default 1234). */
  seed?: number;
  /** Labels generated images with parts (runs on the synthetic faces). */
  segmenter?: PartSegmenter;
  /** Also draw a figure: 8 generated images above their concept maps. */
  figure?: boolean;
  /** A baseline's GMM sees each map scaled to unit RMS over its positions (see rmsNormalize). */
  gmmNormalize?: boolean;
  /** Measure the trained generator's weights even when the run keeps an average of them. */
  trainedWeights?: boolean;
}

/**
 * C of a run's evaluation: an interpretable run's own; for a baseline, whose
 * GMM is fitted at evaluation, `requested` (1 to M) or the interpretable
 * default (24, or M where that is fewer).
 */
export function groupCount(config: TrainConfig, requested?: number): number {
  const m = config.network.targetChannels;
  if (requested !== undefined && (requested < 1 || requested > m)) {
    throw new ConfigError(
      `--groups ${requested} is out of range: a run with M = ${m} target filters has 1 to ${m} groups.`,
    );
  }
  const trained = config.interpretable?.groups;
  if (trained !== undefined && requested !== undefined && requested !== trained) {
    throw new ConfigError(
      `--groups ${requested} applies to a baseline run, whose groups are fitted when it is ` +
        `measured; this interpretable run has its trained ${trained}: leave --groups out.`,
    );
  }
  return trained ?? requested ?? Math.min(DEFAULT_INTERPRETABLE.groups, m);
}

/** The block size of {@link RunEvaluation.blockMetrics}. */
export const METRIC_BLOCK = 2;

/** Images per row of the figure. */
const FIGURE_COLUMNS = 8;

/**
 * Reads the checkpoint of the run in `dir` that {@link evaluateRun} evaluates:
 * `file`, or the run's newest; throws CheckpointError when there is none or it
 * cannot be read.
 */
export async function readRunCheckpoint(dir: string, file?: string): Promise<LoadedCheckpoint> {
  const { run } = await openRun(dir);
  const chosen = await chosenCheckpoint(run, file, "evaluate");
  return { ...await readCheckpoint(chosen), file: chosen };
}

/** Evaluates the generator of the run in `dir`. */
export async function evaluateRun(
  dir: string,
  options: EvaluateOptions = {},
): Promise<RunEvaluation> {
  const checkpoint = typeof options.checkpoint === "object"
    ? options.checkpoint
    : await readRunCheckpoint(dir, options.checkpoint);
  const { file } = checkpoint;
  const state = checkpointState(checkpoint);
  const config = checkpointConfig(checkpoint, file);
  const images = options.images ?? 64, seed = options.seed ?? 1234;
  const generator = new GanGenerator(new RandomStream(0), config.network);
  try {
    loadServingGenerator(generator, checkpoint, options);
    const [, m, h, w] = generator.targetShape(images);
    const { maps, blocks, masks, pictures } = await asyncScope(async () => {
      const z = new RandomStream(seed).normal([images, config.network.latent]);
      const head = generator.head(z, { training: false });
      const blocks = await energyPositions(head, METRIC_BLOCK).data();
      const generated = generator.tail(head, { training: false });
      const masks = options.segmenter ? await options.segmenter.predict(generated) : undefined;
      const shown = Math.min(images, FIGURE_COLUMNS);
      const pictures = options.figure
        ? imagesFromPlanar(await generated.data(), shown, config.network.resolution)
        : [];
      return { maps: await head.data(), blocks, masks, pictures };
    });
    const trained = state.interpretability;
    const groups = groupCount(config, options.groups);
    const partition = async (data: Float32Array, k: number) =>
      trained?.assignment ??
        Array.from(
          (await asyncScope(() => {
            const f = tensor(data, [images, m, k]);
            return fitGmm(options.gmmNormalize ? rmsNormalize(f) : f, { components: groups, seed });
          })).assignment,
        );
    const assignment = await partition(maps, h * w);
    const [hb, wb] = [h / METRIC_BLOCK, w / METRIC_BLOCK];
    const centres = groupCentres(maps, [images, m, h * w], assignment, groups);
    const parts: PartMasks | undefined = masks && options.segmenter
      ? { masks, size: config.network.resolution, names: options.segmenter.parts }
      : undefined;
    const figure = options.figure
      ? imageGrid([
        ...pictures,
        ...conceptMaps(
          { data: maps, shape: [images, m, h, w] },
          assignment,
          groups,
          config.network.resolution,
          { count: pictures.length },
        ),
      ], pictures.length)
      : undefined;
    return {
      figure,
      run: dir,
      kind: trained ? "interpretable" : "baseline",
      step: state.step,
      groups,
      partition: trained ? "trained" : "fitted after training",
      gmmNormalized: !trained && (options.gmmNormalize ?? false),
      assignment,
      channelPeaks: channelPeaks(maps, images, m, h * w),
      groupPeaks: channelPeaks(centres, images, groups, h * w),
      metrics: conceptMetrics({ data: maps, shape: [images, m, h, w] }, assignment, groups, {
        parts,
      }),
      blockMetrics: conceptMetrics(
        { data: blocks, shape: [images, m, hb, wb] },
        await partition(blocks, hb * wb),
        groups,
        { parts },
      ),
    };
  } finally {
    generator.dispose();
  }
}
