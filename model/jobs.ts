/**
 * Picture jobs: everything a request asks the model to draw, as plain data
 * (so it can be posted to a worker), and {@link renderJob}, which draws it
 * and encodes the PNGs. The HTTP layer validates a request into a job, and a
 * renderer (`renderer.ts`) runs the job here or in a worker.
 *
 * @module
 */

import { encodePng, photoPixels, type RgbImage } from "../core/image.ts";
import { generatePictures, type ImageSource, isPhoto, latentsOf, picture } from "./generation.ts";
import { conceptMapPicture, groupMapPicture, kernelGridPicture, kernelMapPicture } from "./maps.ts";
import type { ServedModel } from "./model.ts";
import { DEFAULT_FIT_STEPS, reconstructPhotos } from "./refine.ts";
import { langevinLatents, langevinPairs, type LangevinSettings } from "./langevin.ts";
import { largePictureTurn, type MapStyle } from "./render.ts";
import { SWAP_EXTRAS, type SwapMode, swapPictures, swapStrip } from "./swap.ts";

/** Which image a map job is of. */
interface Seeded {
  image: ImageSource;
  truncation?: number;
  /** Side of the picture (of each tile, for the kernel grid) in pixels. */
  size: number;
}

/** What a request asks to draw. Concept groups are given by id, already resolved. */
export type PictureJob =
  | { kind: "generate"; sources: ImageSource[]; truncation?: number; size: number }
  | Seeded & { kind: "kernel"; kernel: number; style: MapStyle }
  | Seeded & { kind: "kernel-grid"; style: MapStyle }
  | Seeded & { kind: "concept-map"; style: "map" | "overlay" }
  | Seeded & { kind: "group-map"; groups: number[]; style: MapStyle }
  | {
    kind: "encode";
    /** The photo's JPEG or PNG bytes (its header already checked). */
    photo: Uint8Array;
    /** Side of the returned pictures. */
    size: number;
    /** Gradient steps that refine the encoder's latent towards the photo (0: none). */
    refine: number;
    /** Gradient steps that fit the latent's target-layer maps to the photo (0: none). */
    fit: number;
  }
  | {
    kind: "swap";
    target: ImageSource;
    source: ImageSource;
    groups: number[];
    mode: SwapMode;
    truncation?: number;
    size: number;
    extras: (typeof SWAP_EXTRAS[number])[];
    /** Also the five pictures side by side (the paper's Fig. 5). */
    strip: boolean;
    /** Langevin dynamics on the swapped pair first (the paper's Fig. 7b). */
    refine?: LangevinSettings;
  }
  | {
    kind: "refine";
    source: ImageSource;
    truncation?: number;
    settings: LangevinSettings;
    size: number;
  };

/**
 * What a job's cost is learned by: its kind, with `+photo` where it takes a
 * photo in (as a map's image, a swap's target or source, or refinement's
 * source): encoding and fitting a photo need not cost what drawing a seed does
 * a work unit (swaps on the default, one worker: 16.5 against 15.0 ms), and
 * one running rate for both would move with whichever came last.
 */
export function costKind(job: PictureJob): string {
  const sources = job.kind === "generate"
    ? job.sources
    : job.kind === "swap"
    ? [job.target, job.source]
    : job.kind === "refine"
    ? [job.source]
    : job.kind === "encode"
    ? []
    : [job.image];
  return sources.some(isPhoto) ? `${job.kind}+photo` : job.kind;
}

/**
 * A job's PNGs by name: `0`, `1`, ... for generation; `picture` for maps;
 * `swapped`, `difference`, `mask`, `target`, `source` and `strip` for swaps;
 * `input` and `reconstruction` for encoding; `before` and `after` for
 * refinement. Not PNGs but float32 values (little-endian): `latent` of
 * encoding and refinement, `latents` (target then source) of a refined
 * swap, `energy` (g_W before, after) of refinement.
 */
export type JobResult = Record<string, Uint8Array>;

/**
 * Work units of taking photos among `sources` into the generator: one for
 * the encoder, and two a fitting step (the tail and its VJP measured about
 * twice a generation), at the default's steps where a photo does not say
 * (an upper bound: models without gradients fit none).
 */
function photoUnits(sources: readonly ImageSource[], fits: boolean): number {
  return sources.filter(isPhoto).reduce(
    (sum, photo) => sum + 1 + (fits ? 2 * (photo.fit ?? DEFAULT_FIT_STEPS) : 0),
    0,
  );
}

/**
 * The job's size in work units: images through the generator plus drawn
 * pixels in units of the model's resolution squared. Cost models scale a
 * measured time per unit by it.
 */
export function jobUnits(job: PictureJob, resolution: number, channels: number): number {
  const area = (side: number) => (side / resolution) ** 2;
  switch (job.kind) {
    case "generate":
      return job.sources.length * (1 + area(job.size));
    case "kernel":
    case "concept-map":
    case "group-map":
      return 1 + photoUnits([job.image], true) + 2 * area(job.size);
    case "kernel-grid":
      return 1 + photoUnits([job.image], true) + channels * area(job.size);
    case "encode":
      // A refinement step runs the head, the tail and their two VJPs (about three times as long).
      return 3 + 6 * job.refine + 2 * job.fit + 2 * area(job.size);
    case "swap": {
      const pictures = 1 + job.extras.length + (job.extras.includes("originals") ? 1 : 0) +
        (job.strip ? 5 : 0);
      // A Langevin step runs the head, the energy model and the head's VJP on the pair; its
      // photos are encoded, not fitted (the chain moves latents).
      return 3 + photoUnits([job.target, job.source], !job.refine) +
        6 * (job.refine?.steps ?? 0) + pictures * area(job.size);
    }
    case "refine":
      return 4 + photoUnits([job.source], false) + 3 * job.settings.steps + 2 * area(job.size);
  }
}

/** Images the job runs through the generator. */
export function jobImages(job: PictureJob): number {
  return job.kind === "generate" ? job.sources.length : job.kind === "swap" ? 2 : 1;
}

/** The bytes of float32 values, as jobs return latents. */
function floatBytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Float32 values from {@link floatBytes}' bytes. */
export function floatsOf(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.slice().buffer);
}

/** A drawn job's pictures, and where its time went. */
export interface RenderedJob {
  result: JobResult;
  /** Milliseconds the job took where it ran (a worker, or this thread). */
  renderMs: number;
  /** Of those, milliseconds in runs of the networks. */
  inferenceMs: number;
}

/**
 * A job stopped because its request was given up (time limit, client gone),
 * after running `renderMs` milliseconds: at least what such a job costs.
 */
export class JobGivenUpError extends Error {
  override name = "JobGivenUpError";
  readonly renderMs: number;

  constructor(renderMs: number) {
    super(`the job was given up after ${Math.round(renderMs)} ms.`);
    this.renderMs = renderMs;
  }
}

/**
 * {@link renderJob}, timed: `model` must run one job at a time (as each
 * render lane does) for its inference time to be this job's alone. A job
 * stopped by `signal` rejects with {@link JobGivenUpError}.
 */
export async function renderTimedJob(
  model: ServedModel,
  job: PictureJob,
  signal: AbortSignal,
): Promise<RenderedJob> {
  const t0 = performance.now(), inference = model.inferenceMs;
  try {
    const result = await renderJob(model, job, signal);
    return { result, renderMs: performance.now() - t0, inferenceMs: model.inferenceMs - inference };
  } catch (error) {
    if (signal.aborted) throw new JobGivenUpError(performance.now() - t0);
    throw error;
  }
}

/** A job's pictures by name, and its other values as bytes (see {@link JobResult}). */
interface DrawnJob {
  pictures: Record<string, RgbImage>;
  values?: Record<string, Uint8Array>;
}

/**
 * Draws `job` with `model` and encodes its pictures, with a
 * {@link largePictureTurn} before each.
 */
export async function renderJob(
  model: ServedModel,
  job: PictureJob,
  signal: AbortSignal,
): Promise<JobResult> {
  const { pictures, values = {} } = await drawJob(model, job, signal);
  const out: JobResult = { ...values };
  for (const [name, image] of Object.entries(pictures)) {
    await largePictureTurn(model.manifest.resolution, image.width * image.height, signal);
    out[name] = encodePng(image);
  }
  return out;
}

async function drawJob(
  model: ServedModel,
  job: PictureJob,
  signal: AbortSignal,
): Promise<DrawnJob> {
  const groupsOf = (ids: readonly number[]) => ids.map((id) => model.manifest.groups[id]);
  switch (job.kind) {
    case "generate": {
      const pictures = await generatePictures(model, job, signal);
      return { pictures: Object.fromEntries(pictures.map((p, k) => [String(k), p])) };
    }
    case "kernel":
      return { pictures: { picture: await kernelMapPicture(model, job, signal) } };
    case "kernel-grid":
      return { pictures: { picture: await kernelGridPicture(model, job, signal) } };
    case "concept-map":
      return { pictures: { picture: await conceptMapPicture(model, job, signal) } };
    case "group-map":
      return {
        pictures: {
          picture: await groupMapPicture(model, { ...job, groups: groupsOf(job.groups) }, signal),
        },
      };
    case "encode": {
      // Decoded once: the encoder and the refinement see the same pixels.
      const input = photoPixels(job.photo, model.manifest.resolution);
      const { latents, images } = await reconstructPhotos(model, input, 1, job, signal);
      return {
        pictures: {
          input: picture(model, input, 0, job.size),
          reconstruction: picture(model, images, 0, job.size),
        },
        values: { latent: floatBytes(latents) },
      };
    }
    case "refine": {
      const before = await latentsOf(model, [job.source], job.truncation, signal);
      const after = await langevinLatents(model, before, 1, job.settings, signal);
      // One head run per latent serves both its image and its energy.
      const [b, a] = await Promise.all([before, after].map(async (z) => {
        const maps = await model.maps(z, 1, signal);
        const [images, { energy }] = await Promise.all([
          model.images(maps, 1, signal),
          model.energy(maps, 1, signal),
        ]);
        return { images, energy: energy[0] };
      }));
      return {
        pictures: {
          before: picture(model, b.images, 0, job.size),
          after: picture(model, a.images, 0, job.size),
        },
        values: {
          latent: floatBytes(after),
          energy: floatBytes(Float32Array.of(b.energy, a.energy)),
        },
      };
    }
    case "swap": {
      const groups = groupsOf(job.groups);
      let target = job.target, source = job.source, latents: Float32Array | null = null;
      if (job.refine) {
        const z = await latentsOf(model, [job.target, job.source], job.truncation, signal);
        const Z = model.manifest.latent;
        latents = await langevinPairs(model, z, 1, { groups, mode: job.mode }, job.refine, signal);
        target = { latent: Array.from(latents.subarray(0, Z)) };
        source = { latent: Array.from(latents.subarray(Z)) };
      }
      const drawn = await swapPictures(model, {
        ...job,
        target,
        source,
        // Refined latents are used as they are (truncation applied before the chain).
        truncation: latents ? undefined : job.truncation,
        groups,
        extras: new Set(job.extras),
      }, signal);
      const pictures: Record<string, RgbImage> = {};
      for (const key of ["swapped", "difference", "mask", "target", "source"] as const) {
        const image = drawn[key];
        if (image) pictures[key] = image;
      }
      if (job.strip) pictures.strip = swapStrip(drawn);
      return { pictures, values: latents ? { latents: floatBytes(latents) } : {} };
    }
  }
}
