import assert, { deepEqual as assertEquals, match as assertMatch } from "node:assert/strict";
import { join } from "node:path";
import { encodePng } from "../../core/image.ts";
import { initEngine } from "../engine/engine.ts";
import { listCheckpoints, readCheckpoint, RunFolder } from "../run_folder.ts";
import { trainTinyRun } from "../testing/tiny_run.ts";
import { main } from "./cli.ts";
import { runCapturingErrors } from "../testing/capture_errors.ts";

/** Runs the command with its error lines captured. */
const run = (args: string[]) => runCapturingErrors(main, args);

async function newestRun(root: string, prefix: string): Promise<string> {
  const names: string[] = [];
  for await (const e of Deno.readDir(root)) if (e.name.includes(prefix)) names.push(e.name);
  return join(root, names.sort().at(-1)!);
}

Deno.test("train:encoder", async (t) => {
  await initEngine();
  const root = await Deno.makeTempDir();
  const gan = await trainTinyRun(root, "gan", { steps: 8, checkpointEvery: 8, emaImages: 16 });
  const ganCheckpoint = (await listCheckpoints(new RunFolder(gan))).at(-1)!.file;
  const common = ["--holdout", "4", "--batch", "4", "--lr", "0.003", "--out", root];

  await t.step("lowers the reconstruction error and logs held-out PSNR", async () => {
    const { status } = await run([
      "--generator",
      ganCheckpoint,
      ...common,
      "--steps",
      "40",
      "--sample-every",
      "20",
      "--name",
      "learning",
    ]);
    assertEquals(status, 0);
    const dir = await newestRun(root, "learning");
    const records = (await Deno.readTextFile(join(dir, "log.jsonl"))).trim().split("\n")
      .map((line) => JSON.parse(line));
    const losses = records.filter((r) => "pixel" in r).map((r) => r.pixel as number);
    const psnr = records.filter((r) => "holdoutPsnr" in r);
    assertEquals(psnr.map((r) => r.step), [20, 40]);
    assert(psnr.every((r) => Number.isFinite(r.holdoutPsnr)));
    assert(losses.at(-1)! < losses[0], `pixel error ${losses[0]} -> ${losses.at(-1)}`);
    await Deno.stat(join(dir, "samples", "step-000040.png"));
  });

  await t.step("resumes exactly", async () => {
    const args = (name: string, steps: string) => [
      "--generator",
      ganCheckpoint,
      ...common,
      "--steps",
      steps,
      "--checkpoint-every",
      "5",
      "--name",
      name,
    ];
    assertEquals((await run(args("straight", "10"))).status, 0);
    assertEquals((await run(args("halves", "5"))).status, 0);
    const halves = await newestRun(root, "halves");
    assertEquals((await run(["--resume", halves, "--steps", "10"])).status, 0);
    const last = async (dir: string) =>
      await readCheckpoint((await listCheckpoints(new RunFolder(dir))).at(-1)!.file);
    const a = await last(await newestRun(root, "straight")), b = await last(halves);
    assertEquals(Object.keys(b.tensors).sort(), Object.keys(a.tensors).sort());
    for (const [name, tensor] of Object.entries(a.tensors)) {
      assertEquals(b.tensors[name].data, tensor.data, name);
    }
    // Nothing left to train at --steps 10 or below: refused, and the run's plan kept.
    const config = await Deno.readTextFile(join(halves, "config.json"));
    for (const steps of ["10", "4"]) {
      const done = await run(["--resume", halves, "--steps", steps]);
      assertEquals(done.status, 1);
      assertMatch(done.errors, /error: .* is at step 10 already, .*give --steps above 10/);
    }
    assertEquals(await Deno.readTextFile(join(halves, "config.json")), config);
  });

  await t.step(
    "starts from another encoder run's weights, and refuses a GAN checkpoint",
    async () => {
      const from = (await listCheckpoints(new RunFolder(await newestRun(root, "learning")))).at(-1)!
        .file;
      const args = (initFrom: string, name: string) => [
        "--generator",
        ganCheckpoint,
        ...common,
        "--lr",
        "1e-12", // one step that cannot move the weights: they must be the checkpoint's
        "--steps",
        "1",
        "--init-from",
        initFrom,
        "--name",
        name,
      ];
      assertEquals((await run(args(from, "init"))).status, 0);
      const started = await readCheckpoint(
        (await listCheckpoints(new RunFolder(await newestRun(root, "init")))).at(-1)!.file,
      );
      const source = await readCheckpoint(from);
      const weights = Object.keys(source.tensors).filter((name) =>
        name.startsWith("encoder.") && !name.includes(".running_")
      );
      assert(weights.length > 0);
      for (const name of weights) {
        const [a, b] = [source.tensors[name].data, started.tensors[name].data];
        assert(a.every((x, i) => Math.abs(x - b[i]) <= 1e-6), name);
      }
      const fresh = await readCheckpoint(
        (await listCheckpoints(new RunFolder(await newestRun(root, "straight")))).at(-1)!.file,
      );
      assert(
        weights.some((name) =>
          fresh.tensors[name].data.some((x, i) => x !== started.tensors[name].data[i])
        ),
      );
      const wrong = await run(args(ganCheckpoint, "wrong"));
      assertEquals(wrong.status, 1);
      assertMatch(wrong.errors, /error: .*expected an encoder checkpoint/);
    },
  );

  await t.step(
    "refuses a changed generator checkpoint and a resume with new settings",
    async () => {
      const dir = await newestRun(root, "straight");
      const copy = join(root, "changed.safetensors");
      await Deno.copyFile(ganCheckpoint, copy);
      const config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
      config.generator.checkpoint = copy;
      await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
      const bytes = await Deno.readFile(copy);
      bytes[bytes.length - 1] ^= 1;
      await Deno.writeFile(copy, bytes);
      const changed = await run(["--resume", dir, "--steps", "12"]);
      assertEquals(changed.status, 1);
      assertMatch(changed.errors, /error: .*(not the checkpoint this encoder run|checksum)/);
      const usage = await run(["--resume", dir, "--lr", "0.1"]);
      assertEquals(usage.status, 2);
      assertMatch(usage.errors, /only --steps and --cache-dir may change/);
    },
  );

  await t.step("refuses data with fewer images than a batch to train on", async () => {
    const data = join(root, "one-photo");
    await Deno.mkdir(data);
    const photo = { width: 32, height: 32, data: new Uint8Array(32 * 32 * 3).fill(128) };
    await Deno.writeFile(join(data, "face.png"), encodePng(photo));
    const args = ["--generator", ganCheckpoint, "--data", data, "--cache-dir", root];
    const { status, errors } = await run([...args, "--batch", "4", "--out", root]);
    assertEquals(status, 1);
    assertMatch(
      errors,
      /error: too few images to train on: 1 in the data less 500 held out is fewer than a batch of 4: give more images, or a smaller --holdout or --batch\.$/,
    );
  });
  await Deno.remove(root, { recursive: true });
});
