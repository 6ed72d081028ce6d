/**
 * `deno task eval:filters [--model <bundle> | --run <run>]`: which face part
 * each target-layer filter draws (`faces/filter_parts.ts`), on N generated
 * images with landmark part masks. Prints, for each part, the filters that
 * overlap it most with their groups, then one JSON object as the last line.
 * A part no filter overlaps more than its neighbours cannot get a group by
 * regrouping the filters (docs/RESULTS.md, thirteenth sitting).
 *
 * Exit status: 0 done, 1 error, 2 bad command line.
 *
 * @module
 */

import { stagedProgress } from "../../core/progress.ts";
import { DEFAULT_MODEL, readBundle } from "../../model/bundle.ts";
import { channelGroups } from "../../model/manifest.ts";
import { latentsForSeeds } from "../../model/latents.ts";
import { GeneratorSessions } from "../../model/sessions.ts";
import { openFaceApi } from "../../faces/face_api.ts";
import { type FilterParts, filterParts, filtersOfPart } from "../../faces/filter_parts.ts";
import { FACE_PARTS, partLabelsOf } from "../../faces/parts.ts";
import { MIN_IMAGES } from "../../faces/evaluate.ts";
import { FIXED_SHARE_LIMIT, fixedFilterCount, fixedShares } from "../../core/fixed_share.ts";
import type { TargetMaps } from "../../core/concepts.ts";
import { median } from "../../core/numbers.ts";
import {
  integerFlag,
  parseFlags,
  runCommandLine,
  seedFlag,
  UsageError,
} from "../../training/command_line.ts";
import { exportForEvaluation } from "./faces.ts";

const USAGE =
  `Usage: deno task eval:filters [--model <bundle-folder> | --run <run-folder>] [options]

  --model <folder>     the bundle to measure [model/default, the embedded default model]
  --run <run-folder>   measure a training run's checkpoint, exported to a temporary bundle
  --checkpoint <file>  with --run: this checkpoint instead of the newest
  --images <n>         generated images the overlaps average over, at least ${MIN_IMAGES} [200]
  --seed <n>           first seed of the generated images [1000000]
  --top <n>            filters listed for each part [6]
  -h, --help           this text`;

/** The parsed command line. */
export interface FiltersCommand {
  model?: string;
  run?: string;
  checkpoint?: string;
  images: number;
  seed: number;
  top: number;
}

/** Parses the command line; throws {@link UsageError}. */
export function parseFiltersArgs(args: string[]): FiltersCommand | "help" {
  const values = parseFlags(args, {
    model: { type: "string" },
    run: { type: "string" },
    checkpoint: { type: "string" },
    images: { type: "string" },
    seed: { type: "string" },
    top: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  if (values.model && values.run) throw new UsageError("give --model or --run, not both.");
  if (values.checkpoint && !values.run) throw new UsageError("--checkpoint needs --run.");
  const images = integerFlag("images", values.images) ?? 200;
  if (images < MIN_IMAGES) throw new UsageError(`--images must be at least ${MIN_IMAGES}.`);
  const top = integerFlag("top", values.top) ?? 6;
  if (top < 1) throw new UsageError("--top must be at least 1.");
  return {
    model: values.model,
    run: values.run,
    checkpoint: values.checkpoint,
    images,
    seed: seedFlag(values.seed) ?? 1_000_000,
    top,
  };
}

/** Images per run of the networks and of the landmark net. */
const BATCH = 20;

/** The table: for each part, its `top` filters as "filter (group) IoU". */
export function formatFilters(rows: readonly FilterParts[], top: number, label: string): string {
  const lines = [`${label}: each part's filters by mean IoU (filter (group) IoU)`];
  const width = Math.max(...FACE_PARTS.map((p) => p.length));
  for (const [index, part] of FACE_PARTS.entries()) {
    const best = filtersOfPart(rows, part, top).map((r) =>
      `${r.filter} (${r.group ?? "-"}) ${r.overlaps[index].toFixed(3)}`
    );
    lines.push(`  ${part.padEnd(width)}  ${best.join(", ")}`);
  }
  const named = FACE_PARTS.map((part) => [part, rows.filter((r) => r.bestPart === part).length]);
  lines.push(
    `  filters by the part they overlap most: ${
      named.filter(([, n]) => n).map(([p, n]) => `${p} ${n}`).join(", ")
    }`,
  );
  return lines.join("\n");
}

/** The line on the filters that draw the same pattern on every image (`core/fixed_share.ts`). */
export function formatFixedShares(shares: Float64Array): string {
  return `  filters drawing a fixed pattern (fixed share over ${FIXED_SHARE_LIMIT}): ` +
    `${fixedFilterCount(shares)} of ${shares.length}; median fixed share ${
      median(Array.from(shares)).toFixed(3)
    }`;
}

/** Runs the command; returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runCommandLine({ usage: USAGE, parse: parseFiltersArgs, run: measure }, args);
}

async function measure(command: FiltersCommand): Promise<number> {
  const analyzer = await openFaceApi();
  const progress = stagedProgress({ unit: "img" });
  let folder: string | URL = command.model ?? DEFAULT_MODEL;
  let removeExport: (() => Promise<void>) | null = null;
  try {
    if (command.run) {
      const exported = await exportForEvaluation(command.run, command.checkpoint);
      [folder, removeExport] = [exported.folder, exported.remove];
    }
    const bundle = await readBundle(folder);
    const { manifest } = bundle;
    const { channels, height, width } = manifest.target;
    const n = command.images, size = manifest.resolution, k = height * width;
    const sessions = await GeneratorSessions.open(bundle, { threads: 1 });
    const maps = new Float32Array(n * channels * k);
    const labels = new Uint8Array(n * size * size);
    try {
      for (let from = 0; from < n; from += BATCH) {
        const count = Math.min(BATCH, n - from);
        const latents = latentsForSeeds(
          Array.from({ length: count }, (_, i) => command.seed + from + i),
          manifest.latent,
        );
        const batchMaps = await sessions.head(latents, count);
        maps.set(batchMaps, from * channels * k);
        const images = await sessions.tail(batchMaps, count);
        const landmarks = await analyzer.landmarks(images, count, size);
        for (let i = 0; i < count; i++) {
          labels.set(partLabelsOf(landmarks, i, size), (from + i) * size * size);
        }
        progress.update("generating and landmarks", from + count, n);
      }
    } finally {
      progress.finish();
      await sessions.release();
    }
    const groupOf = channelGroups(manifest);
    const targetMaps: TargetMaps = { data: maps, shape: [n, channels, height, width] };
    const rows = filterParts(targetMaps, labels, size, groupOf);
    const shares = fixedShares(targetMaps);
    const { name, version } = manifest.model;
    console.log(formatFilters(rows, command.top, `${name} ${version}, N = ${n}`));
    console.log(formatFixedShares(shares));
    console.log(JSON.stringify({
      model: manifest.model,
      images: n,
      seed: command.seed,
      parts: FACE_PARTS,
      filters: rows.map((r, j) => ({
        ...r,
        overlaps: r.overlaps.map((v) => +v.toFixed(4)),
        fixedShare: +shares[j].toFixed(4),
      })),
    }));
    return 0;
  } finally {
    analyzer.dispose();
    await removeExport?.();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
