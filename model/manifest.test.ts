import { equal, ok } from "node:assert/strict";
import { channelGroups, manifestInconsistencies, ManifestSchema } from "./manifest.ts";

const manifest = ManifestSchema.parse(
  JSON.parse(Deno.readTextFileSync(new URL("./default/manifest.json", import.meta.url))),
);

Deno.test("channelGroups: each channel's group is the one that lists it", () => {
  const groupOf = channelGroups(manifest);
  equal(groupOf.length, manifest.target.channels);
  groupOf.forEach((group, channel) => ok(manifest.groups[group].channels.includes(channel)));
});

Deno.test("manifestInconsistencies: a channel in two groups, or in none, is named", () => {
  equal(manifestInconsistencies(manifest).length, 0);
  const [first, second, ...rest] = manifest.groups;
  const moved = first.channels[0];
  const twice = {
    ...manifest,
    groups: [first, { ...second, channels: [...second.channels, moved] }, ...rest],
  };
  ok(manifestInconsistencies(twice).some((p) => p.includes(`channels ${moved} `)));
});
