/**
 * `deno task eval:concepts --run <run> [--baseline <run>]`: concept metrics
 * (consistency, separation, and purity on the synthetic faces) of a run's
 * generator, side by side with a baseline run whose groups are fitted after
 * training. Prints a table, then one JSON object as the last line.
 *
 * @module
 */

import { writeFileAtomic } from "../../training/atomic_file.ts";
import { initEngine } from "../../training/engine/engine.ts";
import { encodePng, imageGrid } from "../../core/image.ts";
import {
  evaluateRun,
  groupCount,
  METRIC_BLOCK,
  readRunCheckpoint,
  type RunEvaluation,
} from "../../training/eval/evaluate.ts";
import { segmenterForRun } from "../../training/eval/segmenter.ts";
import { openRun } from "../../training/run_folder.ts";
import { ConfigError } from "../../training/config.ts";
import { dirname, resolve } from "node:path";
import {
  integerFlag,
  parseFlags,
  runCommandLine,
  seedFlag,
  UsageError,
} from "../../training/command_line.ts";

const USAGE = `Usage: deno task eval:concepts --run <run-folder> [options]

  --baseline <run-folder>   a baseline run to compare with (its groups are fitted after training,
                            on unit-RMS maps when --run was trained with --energy-normalize)
  --checkpoint <file>       evaluate this checkpoint of --run instead of its newest
  --baseline-checkpoint <file>
                            the same for --baseline
  --images <n>              generated images the metrics average over [64]
  --groups <n>              C for a baseline evaluated alone [24; with --run interpretable, its C]
  --seed <n>                seed of the evaluation latents [1234]
  --figure <file.png>       also write 8 generated images above their concept maps (each
                            position coloured by its strongest group); with --baseline, its
                            rows follow
  -h, --help                this text`;

/** The parsed command line. */
interface ConceptsCommand {
  run: string;
  baseline?: string;
  checkpoint?: string;
  baselineCheckpoint?: string;
  images?: number;
  groups?: number;
  seed?: number;
  figure?: string;
}

function parse(args: string[]): ConceptsCommand | "help" {
  const values = parseFlags(args, {
    run: { type: "string" },
    baseline: { type: "string" },
    checkpoint: { type: "string" },
    "baseline-checkpoint": { type: "string" },
    images: { type: "string" },
    groups: { type: "string" },
    seed: { type: "string" },
    figure: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  if (!values.run) throw new UsageError("--run <run-folder> is required.");
  if (values["baseline-checkpoint"] !== undefined && values.baseline === undefined) {
    throw new UsageError("--baseline-checkpoint needs --baseline <run-folder>.");
  }
  if (integerFlag("images", values.images) === 0) {
    throw new UsageError("--images must be at least 1.");
  }
  return {
    run: values.run,
    baseline: values.baseline,
    checkpoint: values.checkpoint,
    baselineCheckpoint: values["baseline-checkpoint"],
    images: integerFlag("images", values.images),
    groups: integerFlag("groups", values.groups),
    seed: seedFlag(values.seed),
    figure: values.figure,
  };
}

async function evaluate(command: ConceptsCommand): Promise<void> {
  if (command.figure) await checkFigurePath(command.figure);
  await initEngine();
  const { config } = await openRun(command.run);
  // The other inputs first: the segmenter trains, and the runs are measured, for minutes.
  const checkpoint = await readRunCheckpoint(command.run, command.checkpoint);
  const baselineCheckpoint = command.baseline
    ? await readRunCheckpoint(command.baseline, command.baselineCheckpoint)
    : undefined;
  // Before minutes of work: a C out of range, or one given to an interpretable run.
  groupCount(config, command.groups);
  if (config.data.kind === "synthetic") {
    console.error("training the part segmenter on the synthetic faces ...");
  }
  const trained = await segmenterForRun(config);
  const segmenter = trained?.segmenter;
  if (trained) console.error(`part segmenter: final loss ${trained.loss.toFixed(3)}`);
  const { images, seed, groups } = command;
  const options = { images, seed, segmenter, figure: command.figure !== undefined };
  const evaluations: RunEvaluation[] = [];
  console.error(`evaluating ${command.run} ...`);
  evaluations.push(
    await evaluateRun(command.run, { ...options, checkpoint, groups }),
  );
  if (command.baseline) {
    console.error(`evaluating ${command.baseline} ...`);
    evaluations.push(
      await evaluateRun(command.baseline, {
        ...options,
        checkpoint: baselineCheckpoint,
        groups: evaluations[0].groups,
        gmmNormalize: config.interpretable?.energyNormalize ?? false,
      }),
    );
  }
  segmenter?.dispose();
  printTable(evaluations);
  const summary = (e?: RunEvaluation) =>
    e
      ? {
        ...e,
        figure: undefined,
        assignment: undefined,
        channelPeaks: undefined,
        groupPeaks: undefined,
      }
      : null;
  console.log(JSON.stringify({ run: summary(evaluations[0]), baseline: summary(evaluations[1]) }));
  // Last, so that the results are out even if the figure cannot be written.
  if (command.figure) {
    const figures = evaluations.map((e) => e.figure!);
    await writeFileAtomic(command.figure, encodePng(imageGrid(figures, 1, 6)));
    console.error(`figure: ${command.figure}`);
  }
}

/** Refuses a figure path that is a folder, or in a folder that is not there, before the work. */
async function checkFigurePath(figure: string): Promise<void> {
  if (!/\.png$/i.test(figure)) {
    throw new ConfigError(`--figure ${figure} would hold a PNG; give a path ending in .png.`);
  }
  const folder = dirname(resolve(figure));
  if (!await Deno.stat(folder).then((s) => s.isDirectory, () => false)) {
    throw new ConfigError(
      `--figure ${figure}: the folder ${folder} does not exist; make it first.`,
    );
  }
  const existing = await Deno.stat(figure).catch(() => null);
  if (existing?.isDirectory) {
    throw new ConfigError(`--figure ${figure} is a folder; give the path of a .png file.`);
  }
}

function printTable(evaluations: RunEvaluation[]): void {
  const f = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(3));
  const rows = [[
    "run",
    "kind",
    "step",
    "C",
    "partition",
    "consistency",
    "separation",
    "purity",
    `consistency ${METRIC_BLOCK}x${METRIC_BLOCK}`,
    `separation ${METRIC_BLOCK}x${METRIC_BLOCK}`,
  ]];
  for (const e of evaluations) {
    rows.push([
      e.run,
      e.kind,
      String(e.step),
      String(e.groups),
      e.gmmNormalized ? `${e.partition} on unit-RMS maps` : e.partition,
      f(e.metrics.consistency),
      f(e.metrics.separation),
      f(e.metrics.meanPurity),
      f(e.blockMetrics.consistency),
      f(e.blockMetrics.separation),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c])).join("  "));
  for (const e of evaluations) {
    if (!e.metrics.purity) continue;
    console.log(`\n${e.run}: groups (size, consistency, best part and its IoU)`);
    for (const p of e.metrics.purity) {
      const c = e.metrics.groupConsistency[p.group];
      console.log(
        `  group ${String(p.group).padStart(2)}  ${
          String(e.metrics.groupSizes[p.group]).padStart(3)
        } filters  ` +
          `consistency ${f(c ?? undefined)}  ${p.part.padEnd(10)} ${f(p.iou)}`,
      );
    }
  }
}

if (import.meta.main) {
  Deno.exit(await runCommandLine({ usage: USAGE, parse, run: evaluate }, Deno.args));
}
