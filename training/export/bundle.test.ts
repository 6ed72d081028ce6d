/**
 * Export of a tiny trained run: the bundle's files and manifest, parity of
 * onnxruntime-web's head, tail and head-then-tail with the WebGPU forward
 * pass, and (when Debian's python3-onnx is installed) onnx.checker.
 */

import { deepEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { initEngine } from "../engine/engine.ts";
import { RandomStream } from "../engine/random.ts";
import { asyncScope, tensor } from "../engine/tensor.ts";
import { valueAndGrad } from "../engine/autograd.ts";
import { mul } from "../engine/ops/elementwise.ts";
import { sum } from "../engine/ops/reduce.ts";
import { ARCHITECTURES, resolveConfig } from "../config.ts";
import { recalibrateNorms } from "../networks/average.ts";
import { GanGenerator } from "../networks/generator.ts";
import { createRun, listCheckpoints, readCheckpoint, RunFolder } from "../run_folder.ts";
import { main as trainEncoder } from "../encoder/cli.ts";
import { loadEncoderWeights } from "../encoder/trainer.ts";
import { GanEncoder } from "../networks/encoder.ts";
import { GeneratorSessions } from "../../model/sessions.ts";
import { ServedModel } from "../../model/model.ts";
import { refineToPhotos } from "../../model/refine.ts";
import { mapsOfSources, picture } from "../../model/generation.ts";
import { photoPixels } from "../../core/image.ts";
import { encodePng } from "../../core/image.ts";

const never = () => new AbortController().signal;
import { TINY_RUN, trainTinyRun } from "../testing/tiny_run.ts";
import { BUNDLE_FILES, BUNDLE_FORMAT } from "../../model/manifest.ts";
import { readBundle } from "../../model/bundle.ts";
import { sha256Hex } from "../../core/sha256.ts";
import { buildManifest, exportBundle, ExportError } from "./bundle.ts";
import { parseExportArgs } from "./cli.ts";
import { UsageError } from "../command_line.ts";
import type { RunEvaluation } from "../eval/evaluate.ts";
import { IR_VERSION, OPSET } from "./onnx.ts";
import { generatorOnnx } from "./generator_onnx.ts";
import { probePythonOnnx } from "../../tools/setup/provision.ts";

await initEngine();

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  equal(a.length, b.length);
  let worst = 0;
  for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]));
  return worst;
}

/** Runs a model of several named inputs; returns its first output. */
async function runOnnxWith(
  bytes: Uint8Array,
  inputs: Record<string, [Float32Array, number[]]>,
  options: ort.InferenceSession.SessionOptions = {},
) {
  const session = await ort.InferenceSession.create(bytes, options);
  try {
    const feeds = Object.fromEntries(
      Object.entries(inputs).map((
        [name, [data, dims]],
      ) => [name, new ort.Tensor("float32", data, dims)]),
    );
    const out = await session.run(feeds);
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

async function runOnnx(bytes: Uint8Array, input: Float32Array, dims: number[]) {
  const session = await ort.InferenceSession.create(bytes);
  const name = session.inputNames[0];
  await session.release();
  return await runOnnxWith(bytes, { [name]: [input, dims] });
}

const pythonOnnx = await probePythonOnnx();

const root = await Deno.makeTempDir({ prefix: "igan-export-" });
// Three steps, so that batch norm's running statistics are not the initial ones.
const runDir = await trainTinyRun(root, "tiny", { steps: 3, checkpointEvery: 3, sampleEvery: 3 });
const out = join(root, "bundle");
const bundle = await exportBundle({ run: runDir, out, images: 8, groups: 3, partLabels: false });

Deno.test("export writes head.onnx, tail.onnx and a manifest that describe the run", async () => {
  const { manifest } = bundle;
  equal(manifest.format, BUNDLE_FORMAT);
  equal(manifest.model.name, runDir.split("/").at(-1));
  equal(manifest.model.version, "step-3");
  deepEqual([manifest.resolution, manifest.latent], [32, 8]);
  deepEqual(manifest.target, {
    ...manifest.target,
    layer: "target",
    channels: 8,
    height: 16,
    width: 16,
  });
  equal(manifest.target.channelPeaks.length, 8);
  // A baseline run: its 3 groups are fitted at export and partition the 8 channels.
  equal(manifest.training.kind, "baseline");
  equal(manifest.training.partition, "fitted after training");
  deepEqual(manifest.groups.flatMap((g) => g.channels).sort((a, b) => a - b), [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
  ]);
  for (const group of manifest.groups) {
    match(group.color, /^#[0-9a-f]{6}$/);
    equal(group.share, group.channels.length / 8);
    ok(group.peak > 0, `group ${group.id} has a positive peak`);
  }
  // Without the part segmenter, groups have no labels and the face is unknown.
  ok(manifest.groups.every((g) => g.label === null));
  equal(manifest.face, null);
  equal(manifest.training.steps, 3);
  equal(manifest.training.plannedSteps, 3);
  equal(manifest.training.ema, true, "the tiny run keeps a weight average, which export takes");
  ok(manifest.training.hardware[0].length > 0, "the adapter is recorded");
  equal(manifest.metrics.images, 8);
  for (const part of ["head", "tail", "headVjp", "tailVjp"] as const) {
    const bytes = await Deno.readFile(join(out, BUNDLE_FILES[part]));
    equal(manifest.files[part]?.sha256, sha256Hex(bytes));
  }
  deepEqual((await readBundle(out)).manifest, manifest);
});

Deno.test("--trained-weights exports the trained generator instead of the weight average", async () => {
  const trained = await exportBundle({
    run: runDir,
    out: join(root, "trained"),
    images: 8,
    groups: 3,
    partLabels: false,
    trainedWeights: true,
  });
  equal(trained.manifest.training.ema, false);
  ok(trained.manifest.files.head.sha256 !== bundle.manifest.files.head.sha256, "other weights");
});

Deno.test("onnxruntime-web's head, tail, head-then-tail and their VJPs equal the engine's forward pass and autograd within 1e-4 (f32 weights), within half precision's rounding (f16)", async (t) => {
  for (const architecture of ARCHITECTURES) {
    await t.step(architecture, async () => {
      const network = resolveConfig({ ...TINY_RUN, network: { ...TINY_RUN.network, architecture } })
        .network;
      const generator = new GanGenerator(new RandomStream(5), network);
      try {
        // Running statistics equal to batch statistics, so that inference-mode batch norm scales
        // the maps to O(1) and the parity is not on tiny values.
        recalibrateNorms(generator, { batches: 4, batch: 16, seed: 6 });
        const info = { doc: "parity", producerVersion: "test" };
        const onnx = await generatorOnnx(generator, info, "f32");
        const n = 5;
        const z = new RandomStream(99).normal([n, network.latent]);
        const zHost = await z.data();
        const [engineMaps, engineImages] = await asyncScope(async () => {
          const maps = generator.head(z, { training: false });
          return [await maps.data(), await generator.tail(maps, { training: false }).data()];
        });
        z.dispose();
        const [, m, h, w] = generator.targetShape(n);
        ok(Math.max(...engineMaps) > 1, `the maps are O(1): ${Math.max(...engineMaps)}`);
        const onnxMaps = await runOnnx(onnx.head, zHost, [n, network.latent]);
        const onnxTail = await runOnnx(onnx.tail, engineMaps, [n, m, h, w]);
        const chained = await runOnnx(onnx.tail, onnxMaps, [n, m, h, w]);
        // The VJPs against the engine's autograd: d/dz sum(head(z) * u), d/dmaps sum(tail(maps) * v).
        const stream = new RandomStream(3);
        const u = stream.normal([n, m, h, w]),
          v = stream.normal([n, 3, network.resolution, network.resolution]);
        const [uHost, vHost] = [await u.data(), await v.data()];
        const mapsIn = tensor(engineMaps, [n, m, h, w]);
        const zIn = tensor(zHost, [n, network.latent]);
        const [engineZGrad, engineMapsGrad] = await asyncScope(async () => {
          const a = valueAndGrad(() => sum(mul(generator.head(zIn, { training: false }), u)), [
            zIn,
          ]);
          const b = valueAndGrad(
            () => sum(mul(generator.tail(mapsIn, { training: false }), v)),
            [mapsIn],
          );
          return [await a.grads[0].data(), await b.grads[0].data()];
        });
        [u, v, mapsIn, zIn].forEach((t) => t.dispose());
        // Each VJP reads its weights from its forward model's file.
        const vjps = async (models: typeof onnx) => [
          await runOnnxWith(models.headVjp, {
            z: [zHost, [n, network.latent]],
            u: [uHost, [n, m, h, w]],
          }, { externalData: [{ path: BUNDLE_FILES.head, data: models.head }] }),
          await runOnnxWith(models.tailVjp, {
            maps: [engineMaps, [n, m, h, w]],
            u: [vHost, [n, 3, network.resolution, network.resolution]],
          }, { externalData: [{ path: BUNDLE_FILES.tail, data: models.tail }] }),
        ];
        const [onnxZGrad, onnxMapsGrad] = await vjps(onnx);
        ok(Math.max(...engineZGrad.map(Math.abs)) > 1e-2, "the latent gradient is not ~0");
        const errors = {
          head: maxAbsDifference(onnxMaps, engineMaps),
          tail: maxAbsDifference(onnxTail, engineImages),
          chained: maxAbsDifference(chained, engineImages),
          headVjp: maxAbsDifference(onnxZGrad, engineZGrad),
          tailVjp: maxAbsDifference(onnxMapsGrad, engineMapsGrad),
        };
        console.error(`max abs differences: ${JSON.stringify(errors)}`);
        for (const [part, error] of Object.entries(errors)) ok(error <= 1e-4, `${part}: ${error}`);

        // The default, f16 weights: off the f32 model's results by half precision's rounding, in
        // norm; a VJP by more (1-2% on these untrained networks), since where rounding moves a unit
        // across ReLU's kink its gradient switches on or off.
        const half = await generatorOnnx(generator, info);
        ok(half.head.length < 0.6 * onnx.head.length, `${half.head.length} < ${onnx.head.length}`);
        const [halfZGrad, halfMapsGrad] = await vjps(half);
        const norm = (a: ArrayLike<number>) => Math.hypot(...Array.from(a));
        const relative = (a: Float32Array, b: Float32Array) =>
          norm(a.map((x, k) => x - b[k])) / norm(b);
        const halfErrors = {
          head: relative(await runOnnx(half.head, zHost, [n, network.latent]), onnxMaps),
          tail: relative(await runOnnx(half.tail, engineMaps, [n, m, h, w]), onnxTail),
          headVjp: relative(halfZGrad, onnxZGrad),
          tailVjp: relative(halfMapsGrad, onnxMapsGrad),
        };
        console.error(`f16 against f32, relative: ${JSON.stringify(halfErrors)}`);
        for (const [part, error] of Object.entries(halfErrors)) {
          ok(error > 0 && error <= (part.endsWith("Vjp") ? 5e-2 : 2e-3), `${part}: ${error}`);
        }
      } finally {
        generator.dispose();
      }
    });
  }
});

Deno.test({
  name:
    "onnx.checker.check_model(full_check=True) accepts head.onnx, tail.onnx and their VJPs (python3-onnx)",
  ignore: !pythonOnnx,
  fn: async () => {
    const parts = ["head", "tail", "headVjp", "tailVjp"] as const;
    deepEqual(
      await checkOnnx(parts.map((part) => join(out, BUNDLE_FILES[part]))),
      parts.map(() => `${IR_VERSION} ${OPSET}`),
    );
  },
});

/** Runs onnx.checker (full check) on the files; returns each one's "IR opset" line. */
async function checkOnnx(paths: string[]): Promise<string[]> {
  const script = [
    "import sys, onnx",
    "for path in sys.argv[1:]:",
    "    model = onnx.load(path)",
    "    onnx.checker.check_model(model, full_check=True)",
    "    print(model.ir_version, model.opset_import[0].version)",
  ].join("\n");
  const result = await new Deno.Command("/usr/bin/python3", { args: ["-c", script, ...paths] })
    .output();
  ok(result.success, new TextDecoder().decode(result.stderr));
  return new TextDecoder().decode(result.stdout).trim().split("\n");
}
if (!pythonOnnx) {
  console.error(
    "skipped: onnx.checker test (/usr/bin/python3 has no onnx module; apt-get install python3-onnx)",
  );
}

Deno.test("export refuses unknown group ids and runs without checkpoints", async () => {
  await rejects(
    exportBundle({ run: runDir, out: join(root, "bad"), groups: 3, face: [7] }),
    ExportError,
  );
  const empty = await createRun(root, "empty", resolveConfig(TINY_RUN));
  await rejects(exportBundle({ run: empty.dir, out: join(root, "none") }), /no checkpoint/);
  // An --out that holds a bundle is written over only when asked; one that holds anything else,
  // or is a file, never.
  await rejects(
    exportBundle({ run: runDir, out, groups: 3 }),
    (e) => e instanceof ExportError && /holds a bundle already; give --replace/.test(e.message),
  );
  const other = join(root, "other");
  await Deno.mkdir(other);
  await Deno.writeTextFile(join(other, "notes.txt"), "mine");
  await rejects(exportBundle({ run: runDir, out: other }), /is not empty and holds no bundle/);
  await rejects(exportBundle({ run: runDir, out: join(other, "notes.txt") }), /is a file/);
  // The tiny run's data is synthetic: no face measurement, so its options would be ignored.
  await rejects(
    exportBundle({ run: runDir, out: join(root, "synthetic"), swapMode: "region" }),
    (e: Error) =>
      e instanceof ExportError &&
      /^--swap-mode sets the face measurement, which a run on synthetic data does not get/.test(
        e.message,
      ),
  );
});

Deno.test("a checkpoint exported through another run's folder is described by its own config", async () => {
  const otherDir = await trainTinyRun(root, "other", { steps: 2, batch: 2, checkpointEvery: 2 });
  const [other] = await listCheckpoints(new RunFolder(otherDir));
  const { manifest } = await exportBundle({
    run: runDir,
    checkpoint: other.file,
    out: join(root, "other-bundle"),
    images: 8,
    groups: 3,
    partLabels: false,
  });
  equal(manifest.training.steps, 2);
  equal(manifest.training.plannedSteps, 2, "the other run's steps, not this run's 3");
  match(manifest.model.description, /batch 2,.* 2 of 2 steps/);
});

globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

Deno.test("the manifest drops empty groups, renumbers the rest and keeps the user's ids", () => {
  const config = resolveConfig(TINY_RUN);
  const evaluation: RunEvaluation = {
    run: "runs/x",
    kind: "interpretable",
    step: 10,
    groups: 3,
    partition: "trained",
    gmmNormalized: false,
    // Group 1 is empty: groups 0 and 2 become 0 and 1.
    assignment: [0, 0, 2, 2, 2, 0, 2, 0],
    channelPeaks: new Float32Array(8).fill(1),
    groupPeaks: Float32Array.from([0.5, 0, 0.25]),
    metrics: {
      consistency: 0.4,
      separation: 0.1,
      groupConsistency: [0.3, null, 0.5],
      groupSizes: [4, 0, 4],
      purity: [{ group: 0, part: "eyes", iou: 0.6 }, { group: 2, part: "hair", iou: 0.3 }],
      meanPurity: 0.45,
    },
    blockMetrics: {
      consistency: 0.5,
      separation: 0.2,
      groupConsistency: [0.4, null, 0.6],
      groupSizes: [4, 0, 4],
    },
  };
  const facts = {
    steps: 10,
    ema: false,
    seconds: 7200,
    hardware: ["gpu"],
    head: "a".repeat(64),
    tail: "b".repeat(64),
    headVjp: "c".repeat(64),
    tailVjp: "d".repeat(64),
  };
  const manifest = buildManifest({ run: "runs/x", out: "o" }, config, evaluation, facts);
  deepEqual(manifest.groups.map((g) => [g.id, g.channels, g.label, g.peak]), [
    [0, [0, 1, 5, 7], "eyes", 0.5],
    [1, [2, 3, 4, 6], "hair", 0.25],
  ]);
  deepEqual(manifest.face, [0], "eyes are part of the face, hair is not");
  deepEqual(manifest.metrics.groupConsistency, [0.3, 0.5]);
  match(
    manifest.model.description,
    /Interpretable GAN, 32x32 \(upsample generator of width 4, M = 8, C = \d+, batch 4, DiffAugment color\+translation\+cutout\), .* 10 of 20000 steps in 2\.0 h\.$/,
  );
  const fineTuned = buildManifest(
    { run: "runs/x", out: "o" },
    { ...config, initFrom: "runs/b/checkpoints/step-000500.safetensors" },
    evaluation,
    facts,
  );
  match(fineTuned.model.description, /2\.0 h, fine-tuned from runs\/b\/checkpoints\/step-000500/);
  const withD = buildManifest(
    { run: "runs/x", out: "o" },
    { ...config, initFrom: "runs/b/checkpoints/step-000500.safetensors", initDiscriminator: true },
    evaluation,
    facts,
  );
  match(withD.model.description, /step-000500\.safetensors with its discriminator\.$/);
  const tailTrained = buildManifest(
    { run: "runs/x", out: "o" },
    { ...config, freezeHead: true },
    evaluation,
    facts,
  );
  match(
    tailTrained.model.description,
    /2\.0 h\. Its last steps trained the generator's tail alone/,
  );
  // Labels and face given by the user name the run's group ids (as eval:concepts prints them).
  const named = buildManifest(
    { run: "runs/x", out: "o", labels: { 2: "mouth" }, face: [2, 1] },
    config,
    evaluation,
    facts,
  );
  deepEqual(named.groups.map((g) => g.label), ["eyes", "mouth"]);
  deepEqual(named.face, [1]);
});

Deno.test("export's command line", () => {
  deepEqual(parseExportArgs(["--help"]), "help");
  const options = parseExportArgs([
    "--run",
    "r",
    "--out",
    "o",
    "--label",
    "1=eyes",
    "--label",
    "3=mouth",
    "--face",
    "1,3,3",
    "--images",
    "32",
  ]);
  deepEqual(options, {
    run: "r",
    out: "o",
    replace: false,
    checkpoint: undefined,
    trainedWeights: false,
    encoder: undefined,
    swapMode: undefined,
    faceSwapMode: undefined,
    name: undefined,
    version: undefined,
    description: undefined,
    labels: { 1: "eyes", 3: "mouth" },
    face: [1, 3],
    images: 32,
    groups: undefined,
    partLabels: true,
    faces: true,
    faceImages: undefined,
    facePairs: undefined,
    identities: undefined,
    weights: undefined,
  });
  const measured = parseExportArgs([
    "--run",
    "r",
    "--out",
    "o",
    "--face-images",
    "200",
    "--face-pairs",
    "50",
    "--identities",
    "ids.txt",
    "--swap-mode",
    "region",
    "--face-swap-mode",
    "wide",
    "--weights",
    "f32",
  ]);
  equal(measured !== "help" && measured.faces, true);
  equal(measured !== "help" && measured.weights, "f32");
  deepEqual(
    measured !== "help" && [measured.faceImages, measured.facePairs, measured.identities],
    [200, 50, "ids.txt"],
  );
  deepEqual(
    measured !== "help" && [measured.swapMode, measured.faceSwapMode],
    ["region", "wide"],
  );
  for (
    const [args, message] of [
      [["--out", "o"], /--run/],
      [["--run", "r"], /--out/],
      [["--run", "r", "--out", "o", "--label", "eyes"], /<id>=<name>/],
      [["--run", "r", "--out", "o", "--label", "1=face"], /--label 1=face: "face" names/],
      [["--run", "r", "--out", "o", "--label", "1=2"], /would read as a group id/],
      [["--run", "r", "--out", "o", "--label", "0=left.eye"], /words of letters, digits/],
      [["--run", "r", "--out", "o", "--face", "1;2"], /group ids/],
      [["--run", "r", "--out", "o", "--images", "0"], /at least 1/],
      [["--run", "r", "--out", "o", "--bogus"], /bogus/],
      [["--run", "r", "--out", "o", "--face-swap-mode", "face"], /--face-swap-mode takes/],
      [["--run", "r", "--out", "o", "--no-faces", "--face-pairs", "50"], /which --no-faces skips/],
      [["--run", "r", "--out", "o", "--weights", "f8"], /--weights takes f16 or f32, got "f8"/],
    ] as const
  ) {
    throws(
      () => parseExportArgs([...args]),
      (e: Error) => e instanceof UsageError && message.test(e.message),
    );
  }
});

Deno.test("export --encoder: encoder.onnx equals the engine's encoder, and belongs to its checkpoint", async (t) => {
  const ganCheckpoint = (await listCheckpoints(new RunFolder(runDir))).at(-1)!.file;
  const encoderRoot = join(root, "encoders");
  equal(
    await trainEncoder([
      "--generator",
      ganCheckpoint,
      "--steps",
      "6",
      "--holdout",
      "4",
      "--batch",
      "4",
      "--out",
      encoderRoot,
    ]),
    0,
  );
  const encoderRun = join(encoderRoot, [...Deno.readDirSync(encoderRoot)][0].name);
  const withEncoder = await exportBundle({
    run: runDir,
    out: join(root, "with-encoder"),
    images: 8,
    groups: 3,
    partLabels: false,
    encoder: encoderRun,
  });

  await t.step("the bundle names and hashes encoder.onnx", () => {
    const { manifest, encoder } = withEncoder;
    ok(encoder);
    equal(manifest.format, BUNDLE_FORMAT);
    equal(manifest.files.encoder?.sha256, sha256Hex(encoder));
    equal(manifest.encoder?.steps, 6);
    equal(manifest.encoder?.holdout, null, "synthetic data: no face measurement");
    equal(manifest.encoder?.heldOut, 4, "what eval:encoder measures, whatever export measured");
  });

  await t.step("onnxruntime's encoder equals the engine's within 1e-4", async () => {
    const config = resolveConfig(TINY_RUN).network;
    const encoder = new GanEncoder(new RandomStream(0), {
      resolution: config.resolution,
      width: config.width,
      latent: config.latent,
    });
    const sessions = await GeneratorSessions.open(withEncoder);
    try {
      const newest = (await listCheckpoints(new RunFolder(encoderRun))).at(-1)!.file;
      loadEncoderWeights(encoder, await readCheckpoint(newest));
      const n = 3, s = config.resolution;
      const images = new RandomStream(7).uniform([n, 3, s, s], -1, 1);
      const host = await images.data();
      const engine = await asyncScope(() => encoder.forward(images, { training: false }).data());
      images.dispose();
      ok(Math.max(...engine.map(Math.abs)) > 1e-2, "latents are not all near zero");
      const onnx = await sessions.encode(host, n);
      const error = maxAbsDifference(onnx, engine);
      console.error(`encoder max abs difference: ${error}`);
      ok(error <= 1e-4, `${error}`);
    } finally {
      encoder.dispose();
      await sessions.release();
    }
  });

  await t.step({
    name: "onnx.checker accepts encoder.onnx (python3-onnx)",
    ignore: !pythonOnnx,
    fn: async () => {
      deepEqual(await checkOnnx([join(root, "with-encoder", BUNDLE_FILES.encoder)]), [
        `${IR_VERSION} ${OPSET}`,
      ]);
    },
  });

  /** The bundle with its encoder, served as the server would. */
  const loadServed = () =>
    ServedModel.load(join(root, "with-encoder"), { threads: 1, maxBatch: 16, maxQueuedRows: 64 });

  await t.step("refinement with the exported VJPs lowers the reconstruction error", async () => {
    const served = await loadServed();
    try {
      // The photo is the generator's image of a latent, so the refinement can reach it exactly.
      const Z = served.manifest.latent;
      const target = Float32Array.from({ length: Z }, (_, k) => Math.sin(k + 1));
      const photo = await served.images(await served.maps(target, 1), 1);
      const start = target.map((value, k) => value + 0.5 * Math.cos(3 * k));
      const error = async (z: Float32Array) => {
        const image = await served.images(await served.maps(z, 1), 1);
        return image.reduce((sum, value, k) => sum + (value - photo[k]) ** 2, 0) / image.length;
      };
      const refined = await refineToPhotos(served, start, photo, 1, 20, never());
      const [before, after] = [await error(start), await error(refined)];
      console.error(`reconstruction MSE ${before} -> ${after} after 20 steps`);
      ok(after < 0.5 * before, `${before} -> ${after}`);
    } finally {
      await served.release();
    }
  });

  await t.step("a photo's maps, fitted with the exported tail VJP, draw it closer", async () => {
    const served = await loadServed();
    try {
      // A photo the tiny generator cannot draw from any latent: a generated face, flipped.
      const Z = served.manifest.latent, s = served.manifest.resolution;
      const z = Float32Array.from({ length: Z }, (_, k) => Math.cos(2 * k + 1));
      const face = picture(served, await served.images(await served.maps(z, 1), 1), 0, s);
      const flipped = { ...face, data: face.data.slice() };
      for (let y = 0; y < s; y++) {
        for (let x = 0; x < s; x++) {
          flipped.data.set(
            face.data.subarray((y * s + x) * 3, (y * s + x) * 3 + 3),
            (x * s + y) * 3,
          );
        }
      }
      const bytes = encodePng(flipped), pixels = photoPixels(bytes, s);
      const error = async (fit: number) => {
        const maps = await mapsOfSources(served, [{ photo: bytes, fit }], undefined, never());
        ok(maps.every((v) => v >= 0), "fitted maps stay ReLU outputs");
        const image = await served.images(maps, 1);
        return image.reduce((sum, value, k) => sum + (value - pixels[k]) ** 2, 0) / image.length;
      };
      const [before, after] = [await error(0), await error(30)];
      console.error(
        `photo MSE ${before} with the encoder's maps -> ${after} after 30 fitting steps`,
      );
      ok(after < 0.5 * before, `${before} -> ${after}`);
    } finally {
      await served.release();
    }
  });

  await t.step("an encoder of the other weights is refused", async () => {
    await rejects(
      exportBundle({
        run: runDir,
        out: join(root, "mismatch"),
        images: 8,
        groups: 3,
        partLabels: false,
        trainedWeights: true,
        encoder: encoderRun,
      }),
      (error: Error) => error instanceof ExportError && /weight average/.test(error.message),
    );
  });
});

Deno.test("a folder of faces too small for the face measurement, or without its identity list, is refused before anything is written", async () => {
  const faces = join(root, "few-faces");
  await Deno.mkdir(faces);
  for (let k = 0; k < 3; k++) {
    const pixels = new Uint8Array(4 * 4 * 3).fill(40 * k);
    await Deno.writeFile(join(faces, `${k}.png`), encodePng({ width: 4, height: 4, data: pixels }));
  }
  const folderRun = await trainTinyRun(root, "folder-data", {
    steps: 1,
    checkpointEvery: 1,
    sampleEvery: 1,
    data: { kind: "folder", path: faces },
  });
  const target = join(root, "never-written");
  await rejects(
    exportBundle({ run: folderRun, out: target, groups: 3, partLabels: false }),
    (e) =>
      e instanceof ExportError && /^--no-part-labels skips the synthetic faces'/.test(e.message),
  );
  await rejects(
    exportBundle({ run: folderRun, out: target, groups: 3 }),
    (e) =>
      e instanceof ExportError &&
      /takes 2000 real faces \(twice --face-images, 1000\), and .* holds 3: give --face-images 1 or fewer; --no-faces skips the measurement\./
        .test(e.message),
  );
  // Few enough, but no identity list beside the folder: the measurement cannot tell who is who.
  await rejects(
    exportBundle({ run: folderRun, out: target, groups: 3, faceImages: 1 }),
    (e) =>
      e instanceof ExportError &&
      /the identity list \S+few-faces-identity\.txt does not exist; pass --identities <file> \(lines of <image file name> <person id>\); --no-faces skips the measurement\./
        .test(e.message),
  );
  equal(await Deno.stat(target).then(() => true, () => false), false);
});
