/**
 * `deno task eval:filters`: one error line for what a user may get wrong,
 * and a small measurement of the embedded default bundle.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { FACE_PARTS } from "../../faces/parts.ts";
import { ROOT } from "../server_process.ts";
import { runTool } from "../testing.ts";

const evalFilters = (args: string[]) => runTool("eval/filters.ts", args);

Deno.test("eval:filters: one error line for each thing a user can get wrong", async (t) => {
  await t.step("a bad command line", async () => {
    const few = await evalFilters(["--images", "5"]);
    equal(few.code, 2);
    match(few.lines[0], /^error: --images must be at least 20\.$/);
    const top = await evalFilters(["--top", "0"]);
    equal(top.code, 2);
    match(top.lines[0], /^error: --top must be at least 1\.$/);
    const both = await evalFilters(["--model", "a", "--run", "b"]);
    equal(both.code, 2);
    match(both.lines[0], /^error: give --model or --run, not both\.$/);
  });
  await t.step("a missing bundle", async () => {
    const root = await Deno.makeTempDir();
    try {
      const r = await evalFilters(["--model", join(root, "nothing")]);
      equal(r.code, 1);
      equal(r.lines.length, 1, r.lines.join("\n"));
      match(r.lines[0], /^error: .*nothing: there is no such folder\.$/);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
});

Deno.test("eval:filters: each part's filters of the default bundle, and every filter in JSON", async () => {
  const r = await evalFilters(["--images", "20", "--top", "2"]);
  equal(r.code, 0, r.lines.join("\n"));
  const lines = r.stdout.trim().split("\n");
  for (const part of FACE_PARTS) {
    ok(
      lines.some((line) => new RegExp(`^  ${part} +\\d+ \\(`).test(line)),
      `a row for ${part}`,
    );
  }
  const result = JSON.parse(lines.at(-1)!);
  equal(result.images, 20);
  deepEqual(result.parts, [...FACE_PARTS]);
  equal(result.filters.length, 128, "one row per filter of the default's target layer");
  // The filters of the groups the manifest names nose overlap the nose most.
  const manifest = JSON.parse(await Deno.readTextFile(join(ROOT, "model/default/manifest.json")));
  const noseFilters: number[] = manifest.groups
    .filter((g: { label: string | null }) => g.label === "nose")
    .flatMap((g: { channels: number[] }) => g.channels);
  ok(noseFilters.length > 0);
  for (const filter of noseFilters) {
    equal(result.filters[filter].bestPart, "nose", `filter ${filter}`);
  }
  // The fixed-pattern line agrees with the JSON's shares.
  const shares: number[] = result.filters.map((f: { fixedShare: number }) => f.fixedShare);
  ok(shares.every((s) => s >= 0 && s <= 1), "every share in [0, 1]");
  const fixed = shares.filter((s) => s > 0.9).length;
  ok(
    lines.some((line) => line.includes(`fixed share over 0.9): ${fixed} of 128; median`)),
    `a line counting ${fixed} fixed filters`,
  );
});
