import { deepEqual } from "node:assert/strict";
import { initEngine } from "../engine/engine.ts";
import { RandomStream } from "../engine/random.ts";
import { asyncScope } from "../engine/tensor.ts";
import { GanDiscriminator } from "./discriminator.ts";
import { GanGenerator, TARGET_LAYER } from "./generator.ts";

await initEngine();

Deno.test("generator: head gives the target layer's maps, tail(head(z)) is forward(z)", async () => {
  const gen = new RandomStream(5);
  const config = {
    architecture: "upsample" as const,
    resolution: 64 as const,
    latent: 6,
    width: 2,
    targetChannels: 5,
  };
  const G = new GanGenerator(gen, config);
  try {
    await asyncScope(async () => {
      const z = gen.normal([3, 6]);
      const maps = G.head(z, { training: false });
      deepEqual(maps.shape, [3, 5, 32, 32]);
      deepEqual(G.targetShape(3), [3, 5, 32, 32]);
      const values = await maps.data();
      deepEqual(values.some((v) => v < 0), false, "maps are after the ReLU");
      const image = G.tail(maps, { training: false });
      deepEqual(image.shape, [3, 3, 64, 64]);
      deepEqual(await image.data(), await G.forward(z, { training: false }).data());
    });
  } finally {
    G.dispose();
  }
});

Deno.test("networks: parameter names are stable (checkpoints and export key on them)", () => {
  const gen = new RandomStream(1);
  const G = new GanGenerator(gen, {
    architecture: "dcgan",
    resolution: 32,
    latent: 4,
    width: 2,
    targetChannels: 3,
  });
  const D = new GanDiscriminator(gen, { resolution: 32, width: 2 });
  try {
    deepEqual(G.parameters().map((p) => `${p.name} [${p.shape}]`), [
      "block4.conv.weight [4,8,4,4]",
      "block4.norm.weight [8]",
      "block4.norm.bias [8]",
      "block8.conv.weight [8,4,4,4]",
      "block8.norm.weight [4]",
      "block8.norm.bias [4]",
      `${TARGET_LAYER}.conv.weight [4,3,4,4]`,
      `${TARGET_LAYER}.norm.weight [3]`,
      `${TARGET_LAYER}.norm.bias [3]`,
      "rgb.weight [3,3,4,4]",
    ]);
    deepEqual(G.norms().map((n) => n.name), ["block4.norm", "block8.norm", "target.norm"]);
    deepEqual(D.parameters().map((p) => `${p.name} [${p.shape}]`), [
      "block16.conv.weight [2,3,4,4]",
      "block8.conv.weight [4,2,4,4]",
      "block8.norm.weight [4]",
      "block8.norm.bias [4]",
      "block4.conv.weight [8,4,4,4]",
      "block4.norm.weight [8]",
      "block4.norm.bias [8]",
      "logit.weight [1,8,4,4]",
    ]);
  } finally {
    G.dispose();
    D.dispose();
  }
});
