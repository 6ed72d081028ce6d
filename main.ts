/**
 * Entry point of the HTTP server (`deno task start`, `deno serve main.ts`).
 *
 * The server is not built yet (issue "HTTP API"): this says so and exits with
 * an error instead of pretending to serve.
 *
 * @module
 */

if (import.meta.main) {
  console.error(
    "interpretable-gan: the HTTP server is not implemented yet.\n" +
      "Missing: routes/ (generation, feature maps, concept swaps), model/ (ONNX bundle loading)\n" +
      "and an embedded default model bundle. What exists today is the training side:\n" +
      "  deno task train --help   train a GAN (baseline or --interpretable)\n" +
      "  deno task eval:concepts  measure a run's concept groups\n" +
      "  deno task test           run the tests\n" +
      "  deno task bench:engine   benchmark the WebGPU engine (bench:train: a training step)",
  );
  Deno.exit(1);
}
