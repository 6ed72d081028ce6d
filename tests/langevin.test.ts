/**
 * Langevin refinement when serving, on a tiny interpretable bundle: the
 * gradients it steps along (of g_W(f(z)) through energy.onnx and the head's
 * VJP, and of the swapped pair's g_W) match finite differences of the
 * energy itself, and the HTTP routes answer with them.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { initEngine } from "../training/engine/engine.ts";
import { exportBundle } from "../training/export/bundle.ts";
import { trainTinyRun } from "../training/testing/tiny_run.ts";
import { createApp } from "../routes/app.ts";
import { DEFAULT_SERVER_CONFIG } from "../routes/config.ts";
import { energyGradient, langevinLatents, pairEnergy } from "../model/langevin.ts";
import { ServedModel } from "../model/model.ts";

await initEngine();
const root = await Deno.makeTempDir({ prefix: "igan-langevin-" });
const run = await trainTinyRun(root, "interpretable", {
  steps: 4,
  checkpointEvery: 4,
  interpretable: { groups: 3, every: 2, images: 4, langevinSteps: 2 },
});
const out = join(root, "bundle");
await exportBundle({ run, out, images: 8, partLabels: false });
const model = await ServedModel.load(out, { threads: 1, maxBatch: 16, maxQueuedRows: 64 });
const signal = new AbortController().signal;
const Z = model.manifest.latent;
const z0 = Float32Array.from({ length: Z }, (_, k) => Math.sin(3 * k + 1));
const direction = Float32Array.from({ length: Z }, (_, k) => Math.cos(5 * k + 2));

/** g_W of the images of latents [n, Z]: the energy whose gradients are checked. */
async function energyOf(latents: Float32Array, n: number): Promise<Float32Array> {
  return (await model.energy(await model.maps(latents, n, signal), n, signal)).energy;
}

/** The directional derivative of `f` at `z` along `d`, by central differences. */
async function along(
  f: (z: Float32Array) => Promise<number>,
  z: Float32Array,
  d: Float32Array,
): Promise<number> {
  const eps = 1e-3;
  const shifted = (sign: number) => z.map((v, k) => v + sign * eps * d[k]);
  return ((await f(shifted(1))) - (await f(shifted(-1)))) / (2 * eps);
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, k) => s + v * b[k], 0);

Deno.test("the bundle of an interpretable run has the energy model", () => {
  ok(model.hasEnergy);
  equal(model.manifest.energy?.pool, 1);
});

Deno.test("d/dz g_W(f(z)) through energy.onnx and the head's VJP matches finite differences", async () => {
  const gradient = await energyGradient(model, z0, 1, signal);
  const numeric = await along(async (z) => (await energyOf(z, 1))[0], z0, direction);
  const analytic = dot(gradient, direction);
  console.error(`directional derivative: analytic ${analytic}, finite differences ${numeric}`);
  ok(Math.abs(analytic) > 1e-6, "not ~0");
  ok(Math.abs(analytic - numeric) <= 0.05 * Math.abs(numeric) + 1e-6, `${analytic} vs ${numeric}`);
});

Deno.test("the swapped pair's gradient (Fig. 7b) matches finite differences of its g_W", async () => {
  const swap = { groups: [model.manifest.groups[0]], mode: "groups" as const };
  const pair = Float32Array.of(...z0, ...direction.map((v) => -v));
  const d = Float32Array.of(...direction, ...z0);
  const { grad } = await pairEnergy(model, pair, 1, swap, signal);
  const numeric = await along(
    async (z) => (await pairEnergy(model, z, 1, swap, signal)).energy,
    pair,
    d,
  );
  const analytic = dot(grad, d);
  console.error(`pair directional derivative: analytic ${analytic}, finite differences ${numeric}`);
  ok(Math.abs(analytic - numeric) <= 0.05 * Math.abs(numeric) + 1e-6, `${analytic} vs ${numeric}`);
});

Deno.test("pairs measured together give each pair's own energy and gradient", async () => {
  const swap = { groups: [model.manifest.groups[0]], mode: "region" as const };
  const [t1, t2, s1, s2] = [0, 1, 2, 3].map((j) => z0.map((v, k) => v * Math.cos(j + k)));
  const both = await pairEnergy(
    model,
    Float32Array.of(...t1, ...t2, ...s1, ...s2),
    2,
    swap,
    signal,
  );
  const first = await pairEnergy(model, Float32Array.of(...t1, ...s1), 1, swap, signal);
  const second = await pairEnergy(model, Float32Array.of(...t2, ...s2), 1, swap, signal);
  ok(Math.abs(both.energy - first.energy - second.energy) < 1e-5);
  const close = (a: Float32Array, b: Float32Array) => a.every((v, k) => Math.abs(v - b[k]) < 1e-5);
  ok(close(both.grad.subarray(0, Z), first.grad.subarray(0, Z)));
  ok(close(both.grad.subarray(3 * Z), second.grad.subarray(Z)));
});

Deno.test("a chain is repeatable by its seed", async () => {
  const settings = { steps: 3, stepSize: 0.1, priorSigma: 1, seed: 5 };
  const a = await langevinLatents(model, z0, 1, settings, signal);
  deepEqual(a, await langevinLatents(model, z0, 1, settings, signal));
  ok(a.some((v, k) => v !== z0[k]));
});

Deno.test("POST /v1/refine and POST /v1/swap with refine answer revised latents", async () => {
  const app = createApp({ model, config: DEFAULT_SERVER_CONFIG });
  const post = async (path: string, body: unknown) => {
    const response = await app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    equal(response.status, 200, text);
    return JSON.parse(text);
  };
  const refined = await post("/v1/refine", { image: 4, refine: { steps: 2, seed: 1 } });
  equal(refined.latent.length, Z);
  ok(Number.isFinite(refined.energy.before) && Number.isFinite(refined.energy.after));
  const swapped = await post("/v1/swap", {
    target: 1,
    source: 2,
    concepts: [0],
    refine: { steps: 2 },
  });
  equal(swapped.latents.target.length, Z);
  equal(typeof swapped.swapped, "string");
  await model.release();
  await Deno.remove(root, { recursive: true });
});
