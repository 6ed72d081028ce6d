import { deepEqual, equal, throws } from "node:assert/strict";
import { ConfigError, DEFAULT_CONFIG, resolveConfig, resolveStoredConfig } from "./config.ts";

Deno.test("resolveConfig: defaults, partial overrides and a JSON round trip", () => {
  deepEqual(resolveConfig(), DEFAULT_CONFIG);
  const config = resolveConfig({ batch: 8, network: { width: 4 } });
  equal(config.batch, 8);
  equal(config.network.width, 4);
  equal(config.network.targetChannels, DEFAULT_CONFIG.network.targetChannels);
  deepEqual(resolveConfig(JSON.parse(JSON.stringify(config))), config);
  equal(DEFAULT_CONFIG.network.targetChannels >= 128, true, "M >= 128 at full width");
});

Deno.test("resolveConfig: each bad field is a ConfigError naming it", async (t) => {
  const cases: [string, Parameters<typeof resolveConfig>[0]][] = [
    ["resolution", { network: { resolution: 48 as 64 } }],
    ["network.width", { network: { width: 0 } }],
    ["network.targetChannels", { network: { targetChannels: 2.5 } }],
    ["loss", { loss: "wasserstein" as "hinge" }],
    ["network.architecture", { network: { architecture: "stylegan" as "dcgan" } }],
    ["augment", { augment: ["rotation" as "color"] }],
    ["r1Gamma", { r1Gamma: -0.1 }],
    ["emaImages", { emaImages: -1 }],
    ["lrG", { lrG: -1 }],
    ["beta1", { beta1: 1 }],
    ["batch", { batch: 0 }],
    ["seed", { seed: -3 }],
    ["data.count", { data: { kind: "synthetic", count: 0, seed: 0 } }],
    ["initDiscriminator", { initDiscriminator: true }],
    ["discriminatorWarmup", { discriminatorWarmup: 100 }],
    ["discriminatorWarmup", { initFrom: "a.safetensors", discriminatorWarmup: -1 }],
    ["interpretable.energyPool", { interpretable: { energyPool: 0 } }],
    ["interpretable.energyEveryStep", { interpretable: { energyEveryStep: "yes" as never } }],
    ["interpretable.energyNormalize", { interpretable: { energyNormalize: 1 as never } }],
    ["interpretable.fixedShareWeight", { interpretable: { fixedShareWeight: -1 } }],
    ["interpretable.fixedShareLimit", { interpretable: { fixedShareLimit: 1.5 } }],
  ];
  for (const [field, partial] of cases) {
    await t.step(field, () => {
      throws(
        () => resolveConfig(partial),
        (e) => e instanceof ConfigError && e.message.includes(field),
      );
    });
  }
});

Deno.test("resolveStoredConfig: a config.json from before a field existed keeps what it trained with", () => {
  const stored = JSON.parse(JSON.stringify(resolveConfig({ batch: 8 })));
  delete stored.network.architecture;
  delete stored.augment;
  delete stored.emaImages;
  const config = resolveStoredConfig(stored);
  equal(config.network.architecture, "dcgan");
  deepEqual(config.augment, []);
  equal(config.emaImages, 0);
  equal(config.batch, 8);
  // Today's fields are read as written.
  const current = resolveConfig({ network: { architecture: "dcgan" }, augment: ["cutout"] });
  deepEqual(resolveStoredConfig(JSON.parse(JSON.stringify(current))), current);
  equal(DEFAULT_CONFIG.network.architecture, "upsample");
});
