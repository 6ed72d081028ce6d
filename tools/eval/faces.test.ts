/**
 * `deno task eval:faces` on what a user may get wrong: each gives one
 * `error:` line and status 1 (2 for the command line), never a stack trace.
 * The data are made here: noise images and identity lists.
 */

import { equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { encodePng } from "../../core/image.ts";
import { mulberry32 } from "../../core/host_random.ts";
import { resolveConfig } from "../../training/config.ts";
import { createRun } from "../../training/run_folder.ts";
import { TINY_RUN } from "../../training/testing/tiny_run.ts";
import { syntheticFaces } from "../../training/data/synthetic.ts";
import { readBundle } from "../../model/bundle.ts";
import type { FaceAnalyzer } from "../../faces/analyzer.ts";
import { evaluateFaces } from "../../faces/evaluate.ts";
import { templateLandmarks } from "../../faces/testing.ts";
import { runTool } from "../testing.ts";
import { modesToMeasure } from "./faces.ts";

const evalFaces = (args: string[]) => runTool("eval/faces.ts", args);

/** A folder of `count` noise PNGs (no faces), and an identity list beside it naming `listed`. */
async function noiseFolder(root: string, count: number, listed: (name: string) => string) {
  const folder = join(root, "faces"), random = mulberry32(3);
  await Deno.mkdir(folder);
  const names: string[] = [];
  for (let k = 0; k < count; k++) {
    const data = Uint8Array.from({ length: 32 * 32 * 3 }, () => Math.floor(random() * 256));
    const name = `${String(k).padStart(4, "0")}.png`;
    await Deno.writeFile(join(folder, name), encodePng({ width: 32, height: 32, data }));
    names.push(name);
  }
  await Deno.writeTextFile(
    join(root, "faces-identity.txt"),
    names.map((n, k) => `${listed(n)} ${k % 7}`).join("\n") + "\n",
  );
  return folder;
}

Deno.test("eval:faces: one error line for each thing a user can get wrong", async (t) => {
  const root = await Deno.makeTempDir();
  try {
    await t.step("a missing bundle", async () => {
      const r = await evalFaces(["--model", join(root, "nothing")]);
      equal(r.code, 1);
      equal(r.lines.length, 1, r.lines.join("\n"));
      match(r.lines[0], /^error: .*nothing: there is no such folder\.$/);
    });
    await t.step("a bad command line", async () => {
      const r = await evalFaces(["--images", "many"]);
      equal(r.code, 2);
      match(r.lines[0], /^error: --images takes a non-negative integer, got "many"/);
      const few = await evalFaces(["--images", "5"]);
      equal(few.code, 2);
      match(few.lines[0], /^error: --images must be at least 20\.$/);
    });
    const noise = await noiseFolder(root, 40, (name) => name);
    await t.step("a folder with no faces", async () => {
      const r = await evalFaces(["--data", noise, "--images", "20", "--pairs", "2"]);
      equal(r.code, 1);
      equal(r.lines.length, 1, r.lines.join("\n"));
      match(
        r.lines[0],
        /^error: a face was found in \d+% of 20 images under .*: not a folder of faces/,
      );
    });
    await t.step("an identity list of another folder", async () => {
      const other = join(root, "other");
      await Deno.mkdir(other);
      const ids = join(root, "other-ids.txt");
      await Deno.writeTextFile(ids, "000001.jpg 1\n000002.jpg 1\n");
      const r = await evalFaces(["--data", noise, "--identities", ids, "--images", "20"]);
      equal(r.code, 1);
      equal(r.lines.length, 1, r.lines.join("\n"));
      match(r.lines[0], /^error: .*other-ids\.txt lists 0 of the 40 images under .*identity list/);
    });
    await t.step("a run without checkpoints", async () => {
      const run = await createRun(join(root, "runs"), "empty", resolveConfig(TINY_RUN));
      const r = await evalFaces(["--run", run.dir, "--data", noise]);
      equal(r.code, 1);
      equal(r.lines.length, 1, r.lines.join("\n"));
      match(r.lines[0], /^error: .* has no checkpoint to export\.$/);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * A stand-in for the face networks: the template's landmarks on every image,
 * every face detected, and a "descriptor" of the green values of an 8 x 16
 * grid over the image's centre (where the face is), so that images which
 * share those pixels are close.
 */
const standIn: FaceAnalyzer = {
  descriptors: (images, n, size) => {
    const out = new Float32Array(n * 128), plane = 3 * size * size;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 128; k++) {
        const x = Math.floor(size * (0.35 + (0.3 * (k % 8)) / 8));
        const y = Math.floor(size * (0.3 + (0.45 * Math.floor(k / 8)) / 16));
        out[i * 128 + k] = images[i * plane + size * size + y * size + x];
      }
    }
    return Promise.resolve(out);
  },
  landmarks: (_images, n, size) =>
    Promise.resolve(
      Float32Array.from(
        { length: n * 136 },
        (_, k) => (templateLandmarks()[k % 136] * size) / 64,
      ),
    ),
  detections: (_images, n) => Promise.resolve(new Array(n).fill(true)),
  dispose: () => {},
};

Deno.test("evaluateFaces measures the embedded bundle end to end (stand-in face networks)", async () => {
  const root = await Deno.makeTempDir();
  try {
    const folder = join(root, "faces");
    await Deno.mkdir(folder);
    const set = syntheticFaces({ count: 48, resolution: 64 });
    const lines: string[] = [];
    for (let k = 0; k < set.count; k++) {
      const data = set.pixels.subarray(k * 64 * 64 * 3, (k + 1) * 64 * 64 * 3);
      await Deno.writeFile(join(folder, `${k}.png`), encodePng({ width: 64, height: 64, data }));
      lines.push(`${k}.png ${k % 12}`); // 12 people of 4 images each
    }
    await Deno.writeTextFile(join(root, "ids.txt"), lines.join("\n"));
    const bundle = await readBundle(new URL("../../model/default/", import.meta.url));
    const stages = new Set<string>();
    const e = await evaluateFaces(bundle, standIn, {
      data: folder,
      identities: join(root, "ids.txt"),
      images: 20,
      pairs: 6,
      onProgress: (stage) => stages.add(stage),
    });
    equal(e.images, 20);
    ok(stages.has("swaps") && stages.has("descriptors (generated)"), [...stages].join());
    equal(e.realism.faceDetected, 1);
    ok(e.realism.fd > 0 && e.realism.realFd >= 0, JSON.stringify(e.realism));
    equal(e.naming.groups.length, bundle.manifest.groups.length);
    // The manifest's labels are kept, and a labelled part is measured for locality.
    const labelled = bundle.manifest.groups.find((g) => g.label !== null)!;
    equal(e.naming.groups[labelled.id].used, labelled.label);
    const own = e.locality.find((r) => r.concept === `group ${labelled.id}`)!;
    ok(own.ratio !== null && own.transfer !== null, JSON.stringify(own));
    const identity = e.identity!;
    equal(identity.face.join(), bundle.manifest.face!.join());
    ok(
      identity.paste.meanToSource < identity.paste.meanToTarget,
      "a paste of the source's face shares its pixels",
    );
    ok(identity.samePairs > 0 && identity.differentPairs > 0);
    // The face swap's own locality row comes first, over the face's groups.
    const face = e.locality[0];
    equal(face.concept, "face");
    equal(face.groups.join(), identity.face.join());
    ok(face.ratio !== null && face.ratio > 0 && face.transfer !== null, JSON.stringify(face));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("eval:faces measures the flags' modes, else the bundle's own, else groups", () => {
  const measured = { swapMode: "region", faceSwapMode: "wide" } as const;
  const modes = (command: Parameters<typeof modesToMeasure>[0], m = measured) =>
    Object.values(modesToMeasure(command, m)).join(" ");
  equal(modes({}), "region wide");
  equal(modes({ swapMode: "groups" }), "groups groups", "--swap-mode alone sets both");
  equal(modes({ faceSwapMode: "region" }), "region region");
  equal(modes({ swapMode: "wide", faceSwapMode: "groups" }), "wide groups");
  equal(Object.values(modesToMeasure({}, null)).join(" "), "groups groups");
  equal(Object.values(modesToMeasure({}, { swapMode: "region" })).join(" "), "region region");
});
