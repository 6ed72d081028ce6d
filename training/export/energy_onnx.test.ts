/** energy.onnx against the engine's g_W and its autograd, for both views of the maps. */

import { ok } from "node:assert/strict";
import * as ort from "onnxruntime-web";
import { initEngine } from "../engine/engine.ts";
import { valueAndGrad } from "../engine/autograd.ts";
import { relu } from "../engine/ops/elementwise.ts";
import { sum } from "../engine/ops/reduce.ts";
import { RandomStream } from "../engine/random.ts";
import { asyncScope, tensor } from "../engine/tensor.ts";
import { energy, energyPositions, groupAveraging, rmsNormalize } from "../interpretable/energy.ts";
import { energyOnnx } from "./energy_onnx.ts";

await initEngine();

Deno.test("energy.onnx's g_W and dg_W/dmaps equal the engine's within 1e-4", async (t) => {
  const [n, m, h, w, c] = [3, 6, 8, 8, 3];
  const assignment = [0, 1, 2, 0, 1, 1];
  for (const [pool, normalize] of [[1, false], [2, true]] as const) {
    await t.step(`pool ${pool}, normalize ${normalize}`, async () => {
      const k = (h / pool) * (w / pool);
      const stream = new RandomStream(11);
      const weight = await stream.normal([k, m, c]).data();
      // energy.onnx stores W in half precision: the engine's reference uses the same values.
      const storedWeight = weight.map(Math.f16round);
      const mapsHost = await asyncScope(() => relu(stream.normal([n, m, h, w])).data());
      const [engineEnergy, engineGrad] = await asyncScope(async () => {
        const maps = tensor(mapsHost, [n, m, h, w]);
        const W = tensor(storedWeight, [k, m, c]);
        const A = tensor(groupAveraging(assignment, c), [c, m]);
        const view = (x: typeof maps) => {
          const f = energyPositions(x, pool);
          return normalize ? rmsNormalize(f) : f;
        };
        const values = await energy(W, view(maps), A).data();
        const { grads } = valueAndGrad(() => sum(energy(W, view(maps), A)), [maps]);
        return [values, await grads[0].data()];
      });
      const bytes = energyOnnx({
        weight,
        assignment,
        groups: c,
        maps: [m, h, w],
        pool,
        normalize,
      }, { doc: "parity", producerVersion: "test" });
      const session = await ort.InferenceSession.create(bytes);
      const out = await session.run({ maps: new ort.Tensor("float32", mapsHost, [n, m, h, w]) });
      await session.release();
      const worst = (a: Float32Array, b: Float32Array) =>
        a.reduce((x, v, i) => Math.max(x, Math.abs(v - b[i])), 0);
      const scale = Math.max(...engineGrad.map(Math.abs));
      const errors = {
        energy: worst(out.energy.data as Float32Array, engineEnergy),
        grad: worst(out.maps_grad.data as Float32Array, engineGrad),
      };
      console.error(`largest gradient ${scale}; max abs differences ${JSON.stringify(errors)}`);
      ok(scale > 1e-3, "the gradient is not ~0");
      ok(errors.energy <= 1e-4 && errors.grad <= 1e-4, JSON.stringify(errors));
    });
  }
});
