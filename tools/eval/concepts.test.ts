import { equal, match, ok } from "node:assert/strict";
import { initEngine } from "../../training/engine/engine.ts";
import { listCheckpoints, RunFolder } from "../../training/run_folder.ts";
import { trainTinyRun } from "../../training/testing/tiny_run.ts";
import { runTool } from "../testing.ts";

Deno.test("eval:concepts refuses an unreadable newest checkpoint before the part segmenter trains", async () => {
  await initEngine();
  const root = await Deno.makeTempDir({ prefix: "igan-concepts-" });
  try {
    const run = await trainTinyRun(root, "run", { steps: 4, checkpointEvery: 2, sampleEvery: 4 });
    const [older, newest] = (await listCheckpoints(new RunFolder(run))).map((c) => c.file);
    const bytes = await Deno.readFile(newest);
    await Deno.writeFile(newest, bytes.subarray(0, bytes.length / 2));
    for (
      const args of [
        ["--run", run],
        ["--run", run, "--checkpoint", older, "--baseline", run],
      ]
    ) {
      const { code, lines } = await runTool("eval/concepts.ts", [...args, "--images", "8"]);
      const stderr = lines.join("\n");
      equal(code, 1, stderr);
      match(stderr, /^error: .*step-000004\.safetensors is not a readable checkpoint/m);
      ok(!stderr.includes("part segmenter"), stderr);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("eval:concepts: a --figure that is no .png, or in a missing folder, is refused first", async () => {
  for (
    const [figure, message] of [
      [
        "/tmp/x.jpg",
        /^error: --figure \/tmp\/x\.jpg would hold a PNG; give a path ending in \.png\./m,
      ],
      [
        "/nonexistent-igan/fig.png",
        /^error: --figure \S+: the folder \/nonexistent-igan does not exist; make it first\./m,
      ],
    ] as const
  ) {
    const { code, lines } = await runTool("eval/concepts.ts", [
      "--run",
      "/tmp",
      "--figure",
      figure,
    ]);
    equal(code, 1, lines.join("\n"));
    match(lines.join("\n"), message);
  }
});
