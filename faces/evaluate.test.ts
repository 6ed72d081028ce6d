import { deepEqual, equal } from "node:assert/strict";
import { DESCRIPTOR_SIZE } from "./analyzer.ts";
import { type Manifest, manifestInconsistencies, ManifestSchema } from "../model/manifest.ts";
import {
  type FaceEvaluation,
  identityFigures,
  identityRow,
  localityConcepts,
  manifestWithFaces,
  type NamedGroup,
} from "./evaluate.ts";

const named = (group: number, used: string | null, source: NamedGroup["source"]): NamedGroup => ({
  group,
  label: used === "mouth" || used === "eyes" ? used : null,
  bestPart: "mouth",
  score: 0.3,
  lift: 4,
  insideFace: 0.9,
  used,
  source,
});

Deno.test("localityConcepts: the four parts by label, then each named group", () => {
  const rows = localityConcepts([
    named(0, "mouth", "found"),
    named(1, "eyes", "given"),
    named(2, null, "none"),
    named(3, "face", "manifest"), // not a landmark part: no row of its own
    named(4, "eyes", "found"),
  ]);
  deepEqual(rows.map((r) => [r.name, r.part, r.groups]), [
    ["mouth", "mouth", [0]],
    ["eyes", "eyes", [1, 4]],
    ["nose", "nose", []],
    ["chin", "chin", []],
    ["group 0", "mouth", [0]],
    ["group 1", "eyes", [1]],
    ["group 4", "eyes", [4]],
  ]);
});

Deno.test("manifestWithFaces stores labels, their scores, the face and the figures", async () => {
  const manifest = ManifestSchema.parse(
    JSON.parse(await Deno.readTextFile(new URL("../model/default/manifest.json", import.meta.url))),
  ) as Manifest;
  const groups = manifest.groups.map((g) => named(g.id, g.id === 0 ? "eyes" : null, "found"));
  const evaluation: FaceEvaluation = {
    images: 10,
    pairs: 5,
    seed: 7,
    swapMode: "region",
    faceSwapMode: "wide",
    realism: {
      fd: 1,
      kid: 0.1,
      kidStandardError: 0.01,
      realFd: 0.5,
      realKid: 0,
      realKidStandardError: 0.01,
      faceDetected: 0.9,
      realFaceDetected: 1,
    },
    naming: { groups, face: [0, 1] },
    identity: null,
    locality: [{
      concept: "eyes",
      part: "eyes",
      groups: [0],
      ratio: 0.1,
      transfer: 0.5,
      inMse: 1,
      outMse: 0.1,
    }],
    seconds: 1,
  };
  const stored = ManifestSchema.parse(manifestWithFaces(manifest, evaluation));
  deepEqual(manifestInconsistencies(stored), []);
  equal(stored.groups[0].label, "eyes");
  equal(stored.groups[0].naming?.score, 0.3);
  equal(stored.groups[1].label, null);
  deepEqual(stored.face, [0, 1]);
  equal(stored.faces?.realism.fd, 1);
  equal(stored.faces?.locality[0].transfer, 0.5);
  equal(stored.faces?.swapMode, "region");
  equal(stored.faces?.faceSwapMode, "wide");
  // One mode for both is stored once.
  const same = manifestWithFaces(manifest, { ...evaluation, faceSwapMode: "region" });
  equal(same.faces?.faceSwapMode, undefined);
});

Deno.test("manifestWithFaces: a label read back from the manifest keeps how it was found", () => {
  const manifest = ManifestSchema.parse(
    JSON.parse(Deno.readTextFileSync(new URL("../model/default/manifest.json", import.meta.url))),
  ) as Manifest;
  const eyes = manifest.groups.find((g) => g.label === "eyes")!;
  const [unnamed, handWritten] = manifest.groups.filter((g) => g.label === null);
  const original = { ...eyes, naming: { ...eyes.naming!, source: "given" as const } };
  const before = {
    ...manifest,
    groups: manifest.groups.map((g) => g.id === eyes.id ? original : g),
  };
  const groups = before.groups.map((g) =>
    g.id === eyes.id
      ? named(g.id, "eyes", "manifest")
      : g.id === unnamed.id
      ? named(g.id, "mouth", "found")
      : g.id === handWritten.id // labelled in the manifest by hand: its naming says "none"
      ? named(g.id, "hair", "manifest")
      : named(g.id, null, "none")
  );
  const stored = manifestWithFaces(before, {
    images: 1,
    pairs: 1,
    seed: 1,
    swapMode: "region",
    faceSwapMode: "region",
    realism: before.faces!.realism,
    naming: { groups, face: [eyes.id] },
    identity: null,
    locality: [],
    seconds: 1,
  });
  equal(stored.groups[eyes.id].naming?.source, "given");
  equal(stored.groups[unnamed.id].naming?.source, "found");
  equal(stored.groups[unnamed.id].label, "mouth");
  equal(stored.groups[handWritten.id].naming?.source, "manifest");
});

Deno.test("identityFigures: judged the target's among the pairs told apart", () => {
  // One descriptor value per face (the rest 0): distance |a - b|, threshold 0.5.
  const descriptors = (values: number[]) => {
    const data = new Float32Array(values.length * DESCRIPTOR_SIZE);
    values.forEach((v, i) => data[i * DESCRIPTOR_SIZE] = v);
    return data;
  };
  // Pairs p: target p, source p + 3. Pair 0's faces are alike (0 and 0.2), pairs 1 and 2 differ.
  const generated = descriptors([0, 10, 20, 0.2, 13, 23]);
  // Swap 0 draws its source (so the target's too), swap 1 its target, swap 2 its source.
  const swaps = descriptors([0.2, 10, 23]);
  const figures = identityFigures({
    face: [0],
    verifier: { threshold: 0.5, accuracy: 1, pairs: { same: 1, different: 1 } },
    generatedDescriptors: generated,
    swaps,
    pastes: swaps,
    pairs: 3,
    targetOf: (p) => p,
    sourceOf: (p) => p + 3,
    realJudgedSame: 0,
  });
  equal(figures.generatedJudgedSame, 1 / 3);
  equal(figures.swap.judgedTarget, 2 / 3);
  equal(figures.swap.judgedTargetDistinct, 1 / 2);
  equal(figures.swap.judgedSource, 2 / 3);
});

Deno.test("identityRow: shares judged each person, and the target's among pairs told apart", () => {
  const pairs = [
    { toSource: 0.2, toTarget: 0.9 },
    { toSource: 0.5, toTarget: 0.55 },
    { toSource: 0.7, toTarget: 0.3 },
    { toSource: 0.1, toTarget: 0.62 },
  ];
  const row = identityRow(pairs, 0.6, [false, true, false, false]);
  equal(row.judgedSource, 3 / 4);
  equal(row.judgedTarget, 2 / 4);
  equal(row.judgedTargetDistinct, 1 / 3, "pair 1's faces were alike to begin with");
  equal(row.closerToSource, 3 / 4);
  equal(row.meanToSource, 1.5 / 4);
  equal(identityRow(pairs, 0.6).judgedTargetDistinct, null);
});
