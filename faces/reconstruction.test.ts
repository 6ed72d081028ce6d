import { deepEqual, equal, ok } from "node:assert/strict";
import type { FaceAnalyzer } from "./analyzer.ts";
import { psnrs, reconstructionFigures } from "./reconstruction.ts";

Deno.test("psnrs: the full range [-1, 1] is the peak; identical images are capped, not infinite", () => {
  const a = Float32Array.of(-1, 1, 0, 0), b = Float32Array.of(1, 1, 0, 0);
  // Image 0: errors 2 and 0 (on [0, 1]: 1 and 0), MSE 0.5 -> 3.01 dB; image 1 identical.
  const [first, second] = psnrs(a, b, 2);
  ok(Math.abs(first - 10 * Math.log10(2)) < 1e-9, String(first));
  equal(second, 120);
});

Deno.test("reconstructionFigures: judged the photo's person below the threshold", async () => {
  // A stand-in analyser whose descriptor is the image's first value, padded with zeros.
  const analyzer = {
    descriptors: (images: Float32Array, n: number) => {
      const out = new Float32Array(n * 128), size = images.length / n;
      for (let i = 0; i < n; i++) out[i * 128] = images[i * size];
      return Promise.resolve(out);
    },
  } as unknown as FaceAnalyzer;
  const photos = Float32Array.of(0, 0, 0.5, 0.5),
    reconstructions = Float32Array.of(0.1, 0, 0.5, 0.5);
  const figures = await reconstructionFigures(analyzer, photos, reconstructions, 2, 1, 0.05);
  deepEqual(
    { images: figures.images, judgedSame: figures.judgedSame },
    { images: 2, judgedSame: 0.5 },
  );
  ok(Math.abs(figures.meanDistance - 0.05) < 1e-6);
  equal(
    (await reconstructionFigures(analyzer, photos, reconstructions, 2, 1, null)).judgedSame,
    null,
  );
});
