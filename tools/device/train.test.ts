/**
 * `tools/device/train.sh` on the CPU backend, with a pack whose Deno runs
 * this one (and its module cache, so nothing is fetched) and 40 small
 * images: the three stages run in turn, the newest checkpoint comes back slim
 * in parts that join into a readable file, with the logs and a JSON summary;
 * a stage that runs out of time stops with a checkpoint that comes back, and
 * one with too little time is skipped. The real pack (`pack.sh`: this Deno compressed, the trainer's npm
 * packages alone) was rehearsed by hand (README, "Training on a GPU machine").
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { concatArrays } from "../../core/concat.ts";
import { encodePng } from "../../core/image.ts";
import { checkpointConfig, checkpointState } from "../../training/checkpoint.ts";
import { decodeSafetensors } from "../../training/safetensors.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Writes `.device/` into a copy of the tree's parts that training needs, under `root`. */
async function fakePack(root: string): Promise<string> {
  const tree = join(root, "tree");
  await copyDir(ROOT, tree);
  const pack = join(tree, ".device");
  const images = join(root, "faces");
  await Deno.mkdir(join(pack, "gl"), { recursive: true });
  await Deno.mkdir(images);
  await Deno.mkdir(join(root, "npm"));
  for (let k = 0; k < 40; k++) {
    const data = new Uint8Array(32 * 32 * 3).map((_, i) => (i * (k + 3) + k * 17) % 256);
    await Deno.writeFile(join(images, `${k}.png`), encodePng({ width: 32, height: 32, data }));
  }
  // This Deno, with this process's module cache whatever DENO_DIR train.sh sets.
  const denoDir = JSON.parse(
    new TextDecoder().decode(
      (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output()).stdout,
    ),
  ).denoDir;
  const wrapper = `#!/bin/sh\nDENO_DIR='${denoDir}' exec '${Deno.execPath()}' "$@"\n`;
  await Deno.writeTextFile(join(root, "deno"), wrapper);
  await Deno.copyFile(join(ROOT, "deno.lock"), join(pack, "train.lock"));
  await Deno.writeTextFile(join(pack, "data-path"), "../faces\n");
  const python = `
import lzma, sys, tarfile
root, pack = sys.argv[1:]
with open(f"{root}/deno", "rb") as src, lzma.open(f"{pack}/deno.xz", "wb") as dst:
    dst.write(src.read())
with tarfile.open(f"{pack}/deno-dir.tar.xz", "w:xz") as tar:
    tar.add(f"{root}/npm", arcname="npm")
with tarfile.open(f"{pack}/data.tar.xz", "w:xz") as tar:
    tar.add(f"{root}/faces", arcname="faces")
`;
  const made = await new Deno.Command("python3", { args: ["-c", python, root, pack] }).output();
  equal(made.code, 0, new TextDecoder().decode(made.stderr));
  return tree;
}

/** What the copy of the tree leaves out: what the device tool would not send, and the pictures. */
const NOT_COPIED = new Set([
  ".git",
  ".device",
  "runs",
  "bundles",
  "checkpoints",
  "default",
  "docs",
]);

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (NOT_COPIED.has(entry.name)) continue;
    if (entry.isDirectory) await copyDir(join(from, entry.name), join(to, entry.name));
    else if (entry.isFile) await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}

/** train.sh in `tree` with `budget` seconds, `steps` and `env`, on the CPU with tiny networks. */
function deviceCommand(
  tree: string,
  out: string,
  budget: number,
  steps: string,
  env: Record<string, string> = {},
): Deno.Command {
  return new Deno.Command("bash", {
    cwd: tree,
    args: ["tools/device/train.sh", String(budget)],
    env: {
      OUT: out,
      IGAN_BACKEND: "cpu",
      IGAN_DEVICE_NETWORK: "--resolution 32 --width 4 --target-channels 32 --latent 8",
      IGAN_DEVICE_STEPS: steps,
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs {@link deviceCommand} to its end; returns its exit status, summary, errors and files. */
async function trainOnDevice(
  tree: string,
  out: string,
  budget: number,
  steps: string,
  env: Record<string, string> = {},
) {
  const output = await deviceCommand(tree, out, budget, steps, env).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
  const stdout = text(output.stdout);
  const summary = JSON.parse(stdout.trim().split("\n").at(-1) || "null")?.device;
  return { code: output.code, summary, stderr: text(output.stderr), files };
}

/** The files `names` in `out` joined, in order, and decoded. */
function joinedCheckpoint(out: string, names: string[]) {
  return decodeSafetensors(
    concatArrays(Uint8Array, names.map((name) => Deno.readFileSync(join(out, name)))),
  );
}

/** The paths in a .tar.gz. */
async function listing(archive: string): Promise<string[]> {
  const output = await new Deno.Command("tar", { args: ["-tzf", archive] }).output();
  return new TextDecoder().decode(output.stdout).trim().split("\n");
}

const RUNS = /^runs\/gpu-\d{8}-\d{6}$/;

Deno.test("train.sh: the stages on the pack, the newest checkpoint back slim in parts, logs and a summary", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "igan-device-" });
  try {
    const tree = await fakePack(root);
    const scratch = () =>
      new Set(
        [...Deno.readDirSync("/tmp")].map((e) => e.name).filter((n) => /^igan-device\./.test(n)),
      );
    const scratchBefore = scratch();
    await t.step("the whole recipe within the budget, in 400 KiB parts", async () => {
      const out = join(root, "out");
      const { code, summary, stderr, files } = await trainOnDevice(tree, out, 240, "3 4 2", {
        IGAN_DEVICE_PART_KIB: "400",
      });
      equal(code, 0, stderr);
      const parts = files.filter((f) => f.startsWith("step-000006.safetensors.part-"));
      ok(parts.length >= 2, files.join());
      deepEqual(files, ["logs.tar.gz", ...parts]);
      match(summary.runs, RUNS);
      deepEqual({ ...summary, runs: "", seconds: 0 }, {
        runs: "",
        run: "00002-w64-tail",
        checkpoint: "step-000006.safetensors",
        step: 6,
        parts: parts.length,
        stages: [
          { stage: "w64-baseline", step: 3, status: 0 },
          { stage: "w64-parts", step: 4, status: 0 },
          { stage: "w64-tail", step: 6, status: 0 },
        ],
        seconds: 0,
      });
      match(stderr, /device: w64-parts: run: .*00001-w64-parts, generator and discriminator from/);
      match(
        stderr,
        /device: w64-tail: run: .*continuing .*step-000004\.safetensors at step 4 of 6/,
      );
      const checkpoint = joinedCheckpoint(out, parts);
      equal(checkpointState(checkpoint).step, 6);
      deepEqual(checkpointState(checkpoint).optimizerSteps, { optimizer_g: {}, optimizer_d: {} });
      const config = checkpointConfig(checkpoint, "parts");
      equal(config.network.width, 4);
      ok(config.freezeHead);
      // Paths as here, relative to the checkout: the images pack.sh found, the runs' folder.
      deepEqual(config.data, { kind: "folder", path: "../faces" });
      const names = await listing(join(out, "logs.tar.gz"));
      for (
        const name of [
          "device.log",
          "stages/w64-parts.log",
          "00001-w64-parts/config.json",
          "00002-w64-tail/log.jsonl",
          "00002-w64-tail/samples/step-000006.png",
        ]
      ) ok(names.includes(`${summary.runs}/${name}`), `${name} in ${names}`);
      ok(!names.some((n) => n.includes("checkpoints")), names.join());
    });
    await t.step(
      "a stage cut short by its time: its checkpoint comes back, the summary says",
      async () => {
        const out = join(root, "cut");
        const { code, summary, stderr, files } = await trainOnDevice(tree, out, 25, "100000 2 2", {
          IGAN_DEVICE_RESERVE: "5",
        });
        equal(code, 0, stderr);
        match(stderr, /device: w64-baseline: interrupted at step \d+/);
        match(stderr, /device: w64-parts: skipped, -?\d+s left for it/);
        equal(summary.stages.length, 1);
        const [{ stage, step, status }] = summary.stages;
        deepEqual({ stage, status }, { stage: "w64-baseline", status: 124 });
        ok(step > 0 && step === summary.step, JSON.stringify(summary));
        equal(summary.run, "00000-w64-baseline");
        deepEqual(files, ["logs.tar.gz", `${summary.checkpoint}.part-00`]);
      },
    );
    await t.step("a budget too short for the first stage: the logs alone", async () => {
      const out = join(root, "short");
      const { code, summary, stderr, files } = await trainOnDevice(tree, out, 10, "2 2 2", {
        IGAN_DEVICE_RESERVE: "5",
      });
      equal(code, 0, stderr);
      match(stderr, /device: w64-baseline: skipped, -?\d+s left for it/);
      deepEqual({ ...summary, runs: "", seconds: 0 }, {
        runs: "",
        run: "",
        checkpoint: "",
        step: null,
        parts: 0,
        stages: [],
        seconds: 0,
      });
      deepEqual(files, ["logs.tar.gz"]);
    });
    await t.step(
      "SIGTERM stops the stage in hand with a checkpoint, which comes back",
      async () => {
        const out = join(root, "signal");
        const child = deviceCommand(tree, out, 300, "100000 2 2").spawn();
        const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        while (!/w64-baseline: up to/.test(text)) text += (await stderr.read()).value ?? "";
        await new Promise((resolve) => setTimeout(resolve, 6000));
        child.kill("SIGTERM");
        for (let chunk = await stderr.read(); !chunk.done; chunk = await stderr.read()) {
          text += chunk.value;
        }
        const { code } = await child.status;
        const stdout = await new Response(child.stdout).text();
        equal(code, 143, text);
        match(text, /device: stopped by a signal/);
        const summary = JSON.parse(stdout.trim().split("\n").at(-1)!).device;
        equal(summary.stages[0].stage, "w64-baseline");
        ok(summary.step > 0, JSON.stringify(summary));
        ok(Deno.statSync(join(out, `${summary.checkpoint}.part-00`)).size > 0);
      },
    );
    await t.step("no scratch folder is left in /tmp", () => {
      deepEqual(scratch(), scratchBefore);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
