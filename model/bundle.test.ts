/**
 * Loading a bundle verifies it: each broken copy of the embedded default
 * bundle fails with one error that names the file and the problem.
 */

import { deepEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { OnnxGraph } from "../training/export/onnx.ts";
import { type Bundle, BundleError, DEFAULT_MODEL, faceGroups, readBundle } from "./bundle.ts";
import { sha256Hex } from "../core/sha256.ts";
import { BUNDLE_FILES, type BundlePart } from "./manifest.ts";
import { GeneratorSessions } from "./sessions.ts";

/** A copy of the default bundle in a new temporary folder. */
async function copyOfDefault(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "igan-bundle-" });
  const { manifest } = await readBundle(DEFAULT_MODEL);
  const names = [BUNDLE_FILES.manifest, ...Object.values(manifest.files).map((f) => f!.path)];
  for (const name of names) await Deno.copyFile(new URL(name, DEFAULT_MODEL), join(dir, name));
  return dir;
}

async function editManifest(dir: string, edit: (m: Record<string, unknown>) => void) {
  const file = join(dir, BUNDLE_FILES.manifest);
  const manifest = JSON.parse(await Deno.readTextFile(file));
  edit(manifest);
  await Deno.writeTextFile(file, JSON.stringify(manifest));
}

/** Writes `bytes` as the bundle's file of `part` and gives the manifest its hash. */
async function replaceFile(dir: string, part: BundlePart, bytes: Uint8Array): Promise<void> {
  await Deno.writeFile(join(dir, BUNDLE_FILES[part]), bytes);
  await editManifest(
    dir,
    (m) => (m.files as Record<string, { sha256: string }>)[part].sha256 = sha256Hex(bytes),
  );
}

/** Opens the bundle's sessions (where shapes are checked), releasing them. */
async function open(bundle: Bundle): Promise<void> {
  await (await GeneratorSessions.open(bundle)).release();
}

/** Asserts that loading `dir` fails naming `file` and matching `problem`. */
async function rejectsNaming(dir: string, file: string, problem: RegExp): Promise<void> {
  await rejects(
    async () => await open(await readBundle(dir)),
    (error: Error) => {
      ok(error instanceof BundleError, `${error.name}: ${error.message}`);
      equal(error.file, join(dir, file));
      match(error.message, problem);
      ok(error.message.startsWith(join(dir, file)), error.message);
      return true;
    },
  );
}

Deno.test("the embedded default bundle loads and its sessions open", async () => {
  const bundle = await readBundle(DEFAULT_MODEL);
  ok(bundle.manifest.groups.length > 0);
  await open(bundle);
});

Deno.test("a format-1 bundle loads, as one without encoder, gradients and energy", async () => {
  const dir = await copyOfDefault();
  await editManifest(dir, (m) => {
    m.format = "interpretable-gan-bundle/1";
    const files = m.files as Record<string, unknown>;
    for (const key of ["encoder", "headVjp", "tailVjp", "energy"]) delete files[key];
    delete m.encoder;
    delete m.energy;
  });
  const bundle = await readBundle(dir);
  equal(bundle.encoder, null);
  equal(bundle.headVjp, null);
  const sessions = await GeneratorSessions.open(bundle);
  equal(sessions.hasEncoder, false);
  equal(sessions.hasGradients, false);
  await sessions.release();
  await Deno.remove(dir, { recursive: true });
});

/** `model` with every weight it reads from `source` (ONNX external data) stored in it instead. */
function withOwnWeights(model: Uint8Array, source: Uint8Array): Uint8Array {
  const { onnx } = onnxProto;
  const decoded = onnx.ModelProto.decode(model);
  for (const tensor of decoded.graph!.initializer!) {
    if (tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const at = Object.fromEntries(tensor.externalData!.map((e) => [e.key, e.value]));
    const offset = Number(at.offset);
    tensor.rawData = source.slice(offset, offset + Number(at.length));
    tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    tensor.externalData = [];
  }
  return onnx.ModelProto.encode(decoded).finish();
}

Deno.test("a format-2 bundle, whose VJPs hold their own weights, loads and computes the same", async () => {
  const dir = await copyOfDefault();
  const before = await GeneratorSessions.open(await readBundle(dir));
  for (const [part, source] of [["headVjp", "head"], ["tailVjp", "tail"]] as const) {
    const model = await Deno.readFile(join(dir, BUNDLE_FILES[part]));
    const own = withOwnWeights(model, await Deno.readFile(join(dir, BUNDLE_FILES[source])));
    ok(own.length > model.length, `${part} now holds weights: ${own.length} > ${model.length}`);
    await replaceFile(dir, part, own);
  }
  await editManifest(dir, (m) => m.format = "interpretable-gan-bundle/2");
  const after = await GeneratorSessions.open(await readBundle(dir));
  try {
    const { latent, target: { channels, height, width } } = after.manifest;
    const z = Float32Array.from({ length: 2 * latent }, (_, k) => Math.sin(k));
    const maps = await before.head(z, 2);
    const u = maps.map((_, k) => Math.cos(k));
    equal(maps.length, 2 * channels * height * width);
    deepEqual(await after.headVjp(z, u, 2), await before.headVjp(z, u, 2));
    const v = (await before.tail(maps, 2)).map((_, k) => Math.cos(k));
    deepEqual(await after.tailVjp(maps, v, 2), await before.tailVjp(maps, v, 2));
  } finally {
    await Promise.all([before.release(), after.release()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two bundles opened at once each read their VJPs' weights from their own files", async () => {
  // A copy whose head draws other maps: its first weight's bytes, all else equal.
  const dir = await copyOfDefault();
  const head = await Deno.readFile(join(dir, BUNDLE_FILES.head));
  const first = onnxProto.onnx.ModelProto.decode(head).graph!.initializer!
    .find((t) => (t.rawData?.length ?? 0) > 0)!.rawData!;
  head.fill(0, first.byteOffset, first.byteOffset + first.length);
  await replaceFile(dir, "head", head);
  const gradients = async (sessions: GeneratorSessions) => {
    try {
      const { latent, target: { channels, height, width } } = sessions.manifest;
      const z = Float32Array.from({ length: latent }, (_, k) => Math.sin(k));
      const u = Float32Array.from({ length: channels * height * width }, (_, k) => Math.cos(k));
      return await sessions.headVjp(z, u, 1);
    } finally {
      await sessions.release();
    }
  };
  try {
    const [defaultAlone, copyAlone] = [
      await gradients(await GeneratorSessions.open(await readBundle(DEFAULT_MODEL))),
      await gradients(await GeneratorSessions.open(await readBundle(dir))),
    ];
    ok(defaultAlone.some((x, k) => x !== copyAlone[k]), "the two heads differ");
    // A race shows only where two creations overlap: three rounds.
    for (let round = 0; round < 3; round++) {
      const [defaultAtOnce, copyAtOnce] = await Promise.all(
        [DEFAULT_MODEL, dir].map(async (d) =>
          gradients(await GeneratorSessions.open(await readBundle(d)))
        ),
      );
      deepEqual([defaultAtOnce, copyAtOnce], [defaultAlone, copyAlone], `round ${round}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loading a bundle names the file and the problem", async (t) => {
  const dirs: string[] = [];
  const fresh = async () => {
    const dir = await copyOfDefault();
    dirs.push(dir);
    return dir;
  };
  try {
    await t.step("a missing file", async () => {
      const dir = await fresh();
      await Deno.remove(join(dir, BUNDLE_FILES.tail));
      await rejectsNaming(dir, BUNDLE_FILES.tail, /missing/);
      await Deno.remove(join(dir, BUNDLE_FILES.manifest));
      await rejectsNaming(dir, BUNDLE_FILES.manifest, /missing/);
    });
    await t.step("a training run's folder given for a bundle", async () => {
      const dir = await Deno.makeTempDir();
      dirs.push(dir);
      await Deno.writeTextFile(join(dir, "config.json"), "{}");
      await rejectsNaming(
        dir,
        BUNDLE_FILES.manifest,
        /a training run's folder .* not a bundle; export it/,
      );
    });
    await t.step("the manifest's path given for the bundle's folder", async () => {
      const manifest = join(await fresh(), BUNDLE_FILES.manifest);
      await rejects(
        readBundle(manifest),
        (e) =>
          e instanceof BundleError &&
          e.message === `${manifest}: is a file; a bundle is the folder that holds manifest.json ` +
              "(give that folder).",
      );
    });
    await t.step("malformed JSON", async () => {
      const dir = await fresh();
      await Deno.writeTextFile(join(dir, BUNDLE_FILES.manifest), '{"format": ');
      await rejectsNaming(dir, BUNDLE_FILES.manifest, /not valid JSON/);
    });
    await t.step("an unknown format version", async () => {
      const dir = await fresh();
      await editManifest(dir, (m) => m.format = "interpretable-gan-bundle/99");
      await rejectsNaming(
        dir,
        BUNDLE_FILES.manifest,
        /interpretable-gan-bundle\/99.*reads "interpretable-gan-bundle\/1", "interpretable-gan-bundle\/2", "interpretable-gan-bundle\/3"/,
      );
    });
    await t.step(
      "a field of the wrong type, and groups that do not partition the channels",
      async () => {
        const dir = await fresh();
        await editManifest(dir, (m) => m.latent = "128");
        await rejectsNaming(dir, BUNDLE_FILES.manifest, /field "latent"/);
        await editManifest(dir, (m) => {
          m.latent = 128;
          (m.groups as { channels: number[] }[])[0].channels.push(0);
        });
        await rejectsNaming(dir, BUNDLE_FILES.manifest, /not in exactly one group/);
      },
    );
    await t.step("a hash mismatch", async () => {
      const dir = await fresh();
      const file = join(dir, BUNDLE_FILES.head);
      const bytes = await Deno.readFile(file);
      bytes[bytes.length - 1] ^= 1;
      await Deno.writeFile(file, bytes);
      await rejectsNaming(dir, BUNDLE_FILES.head, /SHA-256 is [0-9a-f]{64} but the manifest says/);
    });
    await t.step(
      "shapes that do not chain: a tail that takes other maps than the head gives",
      async () => {
        const dir = await fresh();
        const { manifest } = await readBundle(dir);
        const { channels, height, width } = manifest.target;
        const graph = new OnnxGraph();
        graph.node("Relu", [graph.input("maps", [channels + 1, height, width])], "image");
        graph.output("image", [channels + 1, height, width]);
        const tail = graph.encode({
          name: "tail",
          doc: "a tail of another model",
          producerVersion: "test",
        });
        await replaceFile(dir, "tail", tail);
        await rejectsNaming(
          dir,
          BUNDLE_FILES.tail,
          new RegExp(`\\[N, ${channels + 1}, ${height}, ${width}\\] but the manifest makes it`),
        );
      },
    );
    await t.step(
      "a head of the right shapes from another export: its VJP cannot load",
      async () => {
        const dir = await fresh();
        const { manifest } = await readBundle(dir);
        const { channels, height, width } = manifest.target;
        const graph = new OnnxGraph();
        const z = graph.input("z", [manifest.latent]);
        const z4 = graph.node("Reshape", [
          z,
          graph.int64Constant("shape", [-1, channels, 1, 1]),
        ], "z4");
        graph.node("Tile", [z4, graph.int64Constant("repeats", [1, 1, height, width])], "maps");
        graph.output("maps", [channels, height, width]);
        const head = graph.encode({ name: "head", doc: "another head", producerVersion: "test" });
        await replaceFile(dir, "head", head);
        await rejectsNaming(
          dir,
          BUNDLE_FILES.headVjp,
          /onnxruntime cannot load it \(it reads its weights from head\.onnx, which must come from the same export\)/,
        );
      },
    );
    await t.step("a file that is not ONNX", async () => {
      const dir = await fresh();
      await replaceFile(dir, "head", new TextEncoder().encode("not a model"));
      await rejectsNaming(dir, BUNDLE_FILES.head, /onnxruntime cannot load it/);
    });
  } finally {
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("faceGroups: the face's groups, or a BundleError naming the bundle's manifest", async () => {
  const { manifest } = await readBundle(DEFAULT_MODEL);
  deepEqual(faceGroups(manifest, DEFAULT_MODEL).map((g) => g.id), manifest.face);
  throws(
    () => faceGroups({ ...manifest, face: [] }, "/bundles/mine"),
    (e) =>
      e instanceof BundleError && e.file === "/bundles/mine/manifest.json" &&
      /names no face groups/.test(e.message),
  );
});
