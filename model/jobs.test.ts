import { equal } from "node:assert/strict";
import { costKind, jobImages, jobUnits } from "./jobs.ts";
import { DEFAULT_FIT_STEPS } from "./refine.ts";
import { swapJob } from "./testing/jobs.ts";

const photo = (fit?: number) => ({ photo: new Uint8Array([0xff, 0xd8]), fit });

Deno.test("jobUnits: images through the generator, photos' encoding and fitting, drawn area", () => {
  // Resolution 64: a 64-pixel picture is one unit of area, 128 pixels four.
  equal(jobUnits({ kind: "generate", sources: [1, 2, 3], size: 64 }, 64, 128), 3 * 2);
  equal(jobUnits({ kind: "generate", sources: [1], size: 128 }, 64, 128), 1 + 4);
  const kernel = { kind: "kernel", image: 1, size: 64, kernel: 0, style: "heat" } as const;
  equal(jobUnits(kernel, 64, 128), 1 + 2);
  // A photo in costs its encoding and two units a fitting step, as asked or by default.
  equal(jobUnits({ ...kernel, image: photo(10) }, 64, 128), 1 + (1 + 20) + 2);
  equal(jobUnits({ ...kernel, image: photo() }, 64, 128), 1 + (1 + 2 * DEFAULT_FIT_STEPS) + 2);
  // The kernel grid draws a tile a channel.
  equal(jobUnits({ kind: "kernel-grid", image: 1, size: 32, style: "heat" }, 64, 128), 1 + 32);
  equal(
    jobUnits({ kind: "encode", photo: new Uint8Array(), size: 64, refine: 5, fit: 3 }, 64, 128),
    3 + 30 + 6 + 2,
  );
  // A swap: its picture, each extra (originals are two), the strip's five.
  equal(jobUnits(swapJob({}), 64, 128), 3 + 1);
  equal(jobUnits(swapJob({ extras: ["difference", "originals"], strip: true }), 64, 128), 3 + 9);
  // Refined swaps encode their photos without fitting them, and pay six units a chain step.
  const settings = { steps: 4, stepSize: 0.1, priorSigma: 1, seed: 0 };
  equal(jobUnits(swapJob({ source: photo(), refine: settings }), 64, 128), 3 + 1 + 24 + 1);
  equal(jobUnits({ kind: "refine", source: 1, settings, size: 64 }, 64, 128), 4 + 12 + 2);
});

Deno.test("costKind: a job's kind, apart when it takes a photo in", () => {
  equal(costKind(swapJob({})), "swap");
  equal(costKind(swapJob({ target: photo() })), "swap+photo");
  equal(costKind({ kind: "generate", sources: [1, photo()], size: 64 }), "generate+photo");
  equal(
    costKind({ kind: "kernel-grid", image: { latent: [0] }, size: 8, style: "heat" }),
    "kernel-grid",
  );
  equal(
    costKind({ kind: "encode", photo: new Uint8Array(), size: 64, refine: 0, fit: 0 }),
    "encode",
  );
  equal(jobImages(swapJob({})), 2);
});
