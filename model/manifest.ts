/**
 * The manifest of a model bundle (`manifest.json`): what its ONNX files
 * compute, the target layer's concept groups, how the model was trained and
 * measured, and a SHA-256 of each file. One zod schema describes it: export
 * writes it, the loader validates it, and `GET /v1/model` documents it.
 *
 * @module
 */

import { SWAP_MODES } from "../core/swap_maps.js";
import { z } from "zod";

/** The format tag of bundles this code writes. */
export const BUNDLE_FORMAT = "interpretable-gan-bundle/3";

/**
 * The format tags this code reads: version 2 added the optional encoder
 * (`encoder.onnx`) and the generator's vector-Jacobian products
 * (`head_vjp.onnx`, `tail_vjp.onnx`); a version-1 bundle is read as one
 * without them. In version 3 the VJPs read their weights from the forward
 * models' files ({@link WEIGHT_SOURCES}) rather than holding a copy.
 */
export const READABLE_BUNDLE_FORMATS: readonly string[] = [
  "interpretable-gan-bundle/1",
  "interpretable-gan-bundle/2",
  BUNDLE_FORMAT,
];

/**
 * How requests name a concept: a group id, `face`, or a label, in words of
 * letters, digits, `_` or `-` that single spaces join ("face skin").
 */
export const CONCEPT_NAME = String.raw`[\w-]+(?: [\w-]+)*`;

/** Why `label` could not name its group in a request, or null when it can. */
export function labelProblem(label: string): string | null {
  if (!new RegExp(`^${CONCEPT_NAME}$`).test(label)) {
    return "a label is words of letters, digits, _ or -, joined by single spaces";
  }
  if (/^\d+$/.test(label)) return "a label of digits would read as a group id";
  if (label === "face") return '"face" names the model\'s face groups together';
  return null;
}

/** File names inside a bundle folder. */
export const BUNDLE_FILES = {
  manifest: "manifest.json",
  head: "head.onnx",
  tail: "tail.onnx",
  encoder: "encoder.onnx",
  headVjp: "head_vjp.onnx",
  tailVjp: "tail_vjp.onnx",
  energy: "energy.onnx",
} as const;

/** The bundle's ONNX files, by the manifest's `files` keys. */
export type BundlePart = Exclude<keyof typeof BUNDLE_FILES, "manifest">;

/**
 * The parts whose ONNX files take their weights from another part's file
 * (ONNX external data whose location is that file's name): each VJP reads
 * the weights of the forward model it differentiates.
 */
export const WEIGHT_SOURCES = {
  headVjp: "head",
  tailVjp: "tail",
} as const satisfies Partial<Record<BundlePart, BundlePart>>;

const positiveInt = z.number().int().positive();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "a SHA-256 as 64 lowercase hex digits");

const share = z.number().min(0).max(1);

/** How a group's label was found by `eval:faces`' naming (`faces/naming.ts`). */
export const GroupNamingSchema = z.object({
  bestPart: z.string().describe("the landmark part the group's region overlaps most"),
  score: z.number().describe("that overlap, mean IoU over the measured images"),
  lift: z.number().describe(
    "share of the region inside the part over the part's share of the image",
  ),
  insideFace: share.describe("share of the region inside the face"),
  source: z.enum(["given", "manifest", "found", "none"]).describe(
    "where the label came from: given by hand, an earlier manifest, found by naming, or none",
  ),
});

/** Realism: face-descriptor distances of generated to real faces, beside real to real. */
export const RealismSchema = z.object({
  fd: z.number().describe("Frechet distance of generated to real descriptors"),
  kid: z.number().describe("kernel distance (KID) of generated to real descriptors"),
  kidStandardError: z.number(),
  realFd: z.number().describe("Frechet distance between two sets of real faces (the floor)"),
  realKid: z.number(),
  realKidStandardError: z.number(),
  faceDetected: share.describe("share of generated images in which a face is detected"),
  realFaceDetected: share,
});

/** What the verifier says of swapped (or pasted) faces. */
export const IdentityRowSchema = z.object({
  judgedSource: share.describe("share judged the source's person"),
  judgedTarget: share.describe("share judged the target's person"),
  judgedTargetDistinct: share.nullable().optional().describe(
    "share judged the target's person among the pairs whose two faces the verifier tells apart " +
      "(null when it tells none apart; absent in bundles measured before it was recorded)",
  ),
  closerToSource: share.describe("share closer to the source than to the target"),
  meanToSource: z.number(),
  meanToTarget: z.number(),
});

/** Identity after a face swap (the paper's Table 3 protocol). */
export const IdentitySchema = z.object({
  threshold: z.number().describe("verifier threshold on descriptor distance"),
  accuracy: share.describe("balanced accuracy of the threshold on real pairs"),
  samePairs: z.number().int(),
  differentPairs: z.number().int(),
  face: z.array(z.number().int()).describe("the groups swapped as the face"),
  swap: IdentityRowSchema,
  paste: IdentityRowSchema.describe("a feathered pixel paste of the source's face, for reference"),
  generatedJudgedSame: share.describe(
    "share of pairs of different generated faces judged one person",
  ),
  realJudgedSame: share.describe("share of pairs of different real people judged one person"),
});

/** One concept's locality (the paper's Table 4) with the transfer inside its mask. */
export const LocalityRowSchema = z.object({
  concept: z.string(),
  part: z.string().describe("the landmark part whose mask is measured"),
  groups: z.array(z.number().int()).describe("the groups swapped; empty when none draws it"),
  ratio: z.number().nullable().describe("Out-MSE / In-MSE (lower is more local)"),
  transfer: z.number().nullable().describe(
    "1 - MSE(swap, source) / MSE(target, source) in the mask",
  ),
  inMse: z.number().nullable(),
  outMse: z.number().nullable(),
});

/** The figures of `deno task eval:faces`, as export stores them. */
export const FaceFiguresSchema = z.object({
  images: positiveInt.describe("N, generated and real images for realism and naming"),
  pairs: positiveInt.describe("P, pairs per swap measurement"),
  seed: z.number().int().nonnegative().describe("first seed of the generated images"),
  swapMode: z.enum(SWAP_MODES).default("groups").describe(
    "how the measured swaps exchanged maps (the swap endpoints' default mode)",
  ),
  faceSwapMode: z.enum(SWAP_MODES).optional().describe(
    "how the measured face swaps exchanged maps, where not as swapMode (the swap endpoints' " +
      "default mode for the face)",
  ),
  realism: RealismSchema,
  identity: IdentitySchema.nullable(),
  locality: z.array(LocalityRowSchema),
});

/** How well the encoder's reconstructions G(E(x)) match photos it never trained on. */
export const ReconstructionSchema = z.object({
  images: positiveInt.describe("held-out photos measured"),
  psnr: z.number().describe("mean PSNR in dB of the reconstructions against the photos"),
  judgedSame: share.nullable().describe(
    "share of reconstructions the eval:faces verifier judges the photo's person (null without its calibration)",
  ),
  meanDistance: z.number().describe("mean face-descriptor distance of reconstruction to photo"),
});

/** The encoder of a bundle (image -> latent), when it has one. */
export const EncoderInfoSchema = z.object({
  run: z.string().describe("the encoder's training run"),
  steps: z.number().int().nonnegative().describe("encoder steps trained"),
  width: positiveInt.describe("channels of the encoder's first block"),
  heldOut: positiveInt.optional().describe(
    "how many of the last images of its data it never trained on (absent from bundles exported " +
      "before it was recorded)",
  ),
  holdout: ReconstructionSchema.nullable().describe(
    "measured on the held-out photos at export (null when export skipped the face measurement)",
  ),
});

/** The energy model g_W of an interpretable model, for Langevin dynamics (`energy.onnx`). */
export const EnergyInfoSchema = z.object({
  pool: positiveInt.describe("g_W sees the maps averaged over pool x pool blocks"),
  normalize: z.boolean().describe("g_W sees each map scaled to unit RMS"),
  priorSigma: z.number().positive().describe("sigma of the latent prior in the log density"),
  steps: positiveInt.describe("Langevin steps the run trained with (the default of refinement)"),
  stepSize: z.number().positive().describe("the Langevin step size delta the run trained with"),
});

/** What the manifest says of the energy model. */
export type EnergyInfo = z.infer<typeof EnergyInfoSchema>;

/** One concept group: filters of the target layer that draw the same part. */
export const ConceptGroupSchema = z.object({
  id: z.number().int().nonnegative().describe("group id, 0..C-1"),
  channels: z.array(z.number().int().nonnegative()).min(1).describe(
    "member kernels (channels of the target layer)",
  ),
  color: z.string().regex(/^#[0-9a-f]{6}$/).describe("display colour, #rrggbb"),
  label: z.string().min(1).nullable().describe("a part name when known (e.g. eyes), else null"),
  share: z.number().min(0).max(1).describe("the group's share of the target layer's filters"),
  peak: z.number().nonnegative().describe(
    "largest value of the group centre over the export's evaluation images; maps are divided by it for display",
  ),
  naming: GroupNamingSchema.nullable().optional().describe(
    "how eval:faces' naming saw the group, when it was measured at export",
  ),
});

/** A concept group of the manifest. */
export type ConceptGroup = z.infer<typeof ConceptGroupSchema>;

/** The concept metrics measured at export (`core/concepts.ts`). */
export const ConceptMetricsSchema = z.object({
  images: positiveInt.describe("generated images the metrics average over"),
  consistency: z.number().describe("mean IoU of member filters' regions with their group centre's"),
  separation: z.number().describe("mean IoU between different groups' centres (lower is better)"),
  purity: z.number().nullable().describe("mean best-part IoU of the groups (synthetic data only)"),
  groupConsistency: z.array(z.number().nullable()),
});

/** The whole manifest. */
export const ManifestSchema = z.object({
  format: z.string().describe(`bundle format tag, "${BUNDLE_FORMAT}" (or an older readable one)`),
  model: z.object({
    name: z.string().min(1),
    version: z.string().min(1),
    description: z.string().describe("what the model is, including how far it was trained"),
  }),
  resolution: positiveInt.describe("side S of the generated images"),
  latent: positiveInt.describe("length Z of the latent vector"),
  target: z.object({
    layer: z.string().min(1).describe("name of the generator's target layer"),
    channels: positiveInt.describe("M, filters (kernels) of the target layer"),
    height: positiveInt,
    width: positiveInt,
    channelPeaks: z.array(z.number().nonnegative()).describe(
      "largest value of each kernel's map over the export's evaluation images",
    ),
  }),
  groups: z.array(ConceptGroupSchema).min(1),
  face: z.array(z.number().int().nonnegative()).nullable().describe(
    "ids of the groups that make up the face, when known",
  ),
  training: z.object({
    kind: z.enum(["interpretable", "baseline"]),
    partition: z.enum(["trained", "fitted after training"]),
    data: z.string(),
    steps: z.number().int().nonnegative().describe("generator steps trained"),
    plannedSteps: z.number().int().nonnegative().describe("steps the run was configured for"),
    seconds: z.number().nonnegative().describe("training time"),
    hardware: z.array(z.string()).describe("WebGPU adapters the run trained on"),
    ema: z.boolean().describe("whether the exported weights are an exponential moving average"),
  }),
  metrics: ConceptMetricsSchema,
  faces: FaceFiguresSchema.nullable().optional().describe(
    "eval:faces' figures measured at export, when the data were faces",
  ),
  energy: EnergyInfoSchema.nullable().optional().describe(
    "the energy model (POST /v1/refine), for interpretable models exported by this version",
  ),
  encoder: EncoderInfoSchema.nullable().optional().describe(
    "the encoder that turns photos into latents (POST /v1/encode), when the bundle has one",
  ),
  files: z.object({
    head: z.object({ path: z.literal(BUNDLE_FILES.head), sha256 }),
    tail: z.object({ path: z.literal(BUNDLE_FILES.tail), sha256 }),
    encoder: z.object({ path: z.literal(BUNDLE_FILES.encoder), sha256 }).optional(),
    headVjp: z.object({ path: z.literal(BUNDLE_FILES.headVjp), sha256 }).optional().describe(
      "z, u -> the head's Jacobian transposed times u, for gradient steps in the latent",
    ),
    tailVjp: z.object({ path: z.literal(BUNDLE_FILES.tailVjp), sha256 }).optional().describe(
      "maps, u -> the tail's Jacobian transposed times u",
    ),
    energy: z.object({ path: z.literal(BUNDLE_FILES.energy), sha256 }).optional().describe(
      "maps -> g_W and its gradient in the maps",
    ),
  }),
});

/** A bundle's manifest. */
export type Manifest = z.infer<typeof ManifestSchema>;

/** Each target-layer channel's group id (the groups partition the channels; see below). */
export function channelGroups(manifest: Manifest): Int32Array {
  const groupOf = new Int32Array(manifest.target.channels);
  for (const group of manifest.groups) {
    for (const channel of group.channels) groupOf[channel] = group.id;
  }
  return groupOf;
}

/**
 * Problems of a schema-valid manifest that the schema cannot see: group ids
 * and channels must partition 0..M-1, peaks must cover every channel, and
 * face ids must name groups. Returns one message per problem.
 */
export function manifestInconsistencies(manifest: Manifest): string[] {
  const problems: string[] = [];
  const { channels } = manifest.target;
  if (manifest.target.channelPeaks.length !== channels) {
    problems.push(
      `target.channelPeaks has ${manifest.target.channelPeaks.length} values for ${channels} channels`,
    );
  }
  const seen = new Array<number>(channels).fill(0);
  manifest.groups.forEach((group, index) => {
    if (group.id !== index) problems.push(`groups[${index}].id is ${group.id}, expected ${index}`);
    for (const channel of group.channels) {
      if (channel >= channels) {
        problems.push(`group ${group.id} names channel ${channel}; the layer has ${channels}`);
      } else seen[channel]++;
    }
  });
  const misplaced = seen.flatMap((count, channel) => (count === 1 ? [] : [channel]));
  if (misplaced.length > 0) {
    problems.push(
      `channels ${misplaced.slice(0, 5).join(", ")}${misplaced.length > 5 ? ", ..." : ""} ` +
        "are not in exactly one group",
    );
  }
  if (Boolean(manifest.encoder) !== Boolean(manifest.files.encoder)) {
    problems.push("encoder and files.encoder must be given together");
  }
  if (Boolean(manifest.files.headVjp) !== Boolean(manifest.files.tailVjp)) {
    problems.push("files.headVjp and files.tailVjp must be given together");
  }
  if (Boolean(manifest.energy) !== Boolean(manifest.files.energy)) {
    problems.push("energy and files.energy must be given together");
  }
  for (const id of manifest.face ?? []) {
    if (id >= manifest.groups.length) problems.push(`face names group ${id}, which does not exist`);
  }
  return problems;
}
