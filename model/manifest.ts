/**
 * The manifest of a model bundle (`manifest.json`): what the two ONNX files
 * compute, the target layer's concept groups, how the model was trained and
 * measured, and a SHA-256 of each file. One zod schema describes it: export
 * writes it, the loader validates it, and `GET /v1/model` documents it.
 *
 * @module
 */

import { z } from "zod";

/** The format tag of bundles this code writes and reads. */
export const BUNDLE_FORMAT = "interpretable-gan-bundle/1";

/** File names inside a bundle folder. */
export const BUNDLE_FILES = {
  manifest: "manifest.json",
  head: "head.onnx",
  tail: "tail.onnx",
} as const;

const positiveInt = z.number().int().positive();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "a SHA-256 as 64 lowercase hex digits");

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
  format: z.string().describe(`bundle format tag, "${BUNDLE_FORMAT}"`),
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
  files: z.object({
    head: z.object({ path: z.literal(BUNDLE_FILES.head), sha256 }),
    tail: z.object({ path: z.literal(BUNDLE_FILES.tail), sha256 }),
  }),
});

/** A bundle's manifest. */
export type Manifest = z.infer<typeof ManifestSchema>;

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
  for (const id of manifest.face ?? []) {
    if (id >= manifest.groups.length) problems.push(`face names group ${id}, which does not exist`);
  }
  return problems;
}
