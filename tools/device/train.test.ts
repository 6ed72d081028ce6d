/**
 * `tools/device/train.sh` on the CPU backend, with a pack whose Deno runs
 * this one (and its module cache, so nothing is fetched) and 40 small
 * images: the three stages run in turn, the newest checkpoint comes back slim
 * in parts that join into a readable file, with the logs and a JSON summary;
 * a budget too short for a stage skips it. The real pack (`pack.sh`: this Deno compressed, the trainer's npm
 * packages alone) was rehearsed by hand (README, "Training on a GPU machine").
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
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
  await Deno.writeTextFile(join(pack, "data-folder"), "faces\n");
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

/** Runs train.sh in `tree` with `budget` seconds and `steps`; returns its output and files. */
async function trainOnDevice(tree: string, out: string, budget: number, steps: string) {
  const output = await new Deno.Command("bash", {
    cwd: tree,
    args: ["tools/device/train.sh", String(budget)],
    env: {
      OUT: out,
      IGAN_BACKEND: "cpu",
      IGAN_DEVICE_NETWORK: "--resolution 32 --width 4 --target-channels 32 --latent 8",
      IGAN_DEVICE_STEPS: steps,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr), files };
}

/** The parts in `out` joined and decoded. */
function joinedCheckpoint(out: string, parts: string[]) {
  const bytes = parts.map((p) => Deno.readFileSync(join(out, p)));
  const whole = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) whole.set(b, (at += b.length) - b.length);
  return decodeSafetensors(whole);
}

Deno.test("train.sh: three stages on the pack, the newest checkpoint back slim in parts, logs and a summary", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "igan-device-" });
  try {
    const tree = await fakePack(root);
    await t.step("the whole recipe within the budget", async () => {
      const out = join(root, "out");
      const { code, stdout, stderr, files } = await trainOnDevice(tree, out, 240, "3 4 2");
      equal(code, 0, stderr);
      deepEqual(files, ["checkpoint.part-00", "logs.tar.gz"]);
      const summary = JSON.parse(stdout.trim().split("\n").at(-1)!);
      deepEqual(summary.device.stages, " w64-baseline w64-parts w64-tail");
      equal(summary.device.step, 6);
      equal(summary.device.parts, 1);
      match(stderr, /device: w64-parts: run: .*00001-w64-parts, generator and discriminator from/);
      match(
        stderr,
        /device: w64-tail: run: .*continuing .*step-000004\.safetensors at step 4 of 6/,
      );
      const checkpoint = joinedCheckpoint(out, ["checkpoint.part-00"]);
      equal(checkpointState(checkpoint).step, 6);
      deepEqual(checkpointState(checkpoint).optimizerSteps, { optimizer_g: {}, optimizer_d: {} });
      equal(checkpointConfig(checkpoint, "parts").network.width, 4);
      ok(checkpointConfig(checkpoint, "parts").freezeHead);
      const listing = await new Deno.Command("tar", { args: ["-tzf", join(out, "logs.tar.gz")] })
        .output();
      const names = new TextDecoder().decode(listing.stdout);
      for (
        const name of [
          "device.log",
          "stages/w64-parts.log",
          "runs/00002-w64-tail/log.jsonl",
          "runs/00002-w64-tail/samples/step-000006.png",
        ]
      ) ok(names.includes(name), `${name} in ${names}`);
    });
    await t.step(
      "a budget too short for the first stage: nothing comes back, as the summary says",
      async () => {
        const out = join(root, "short");
        const { code, stdout, stderr } = await trainOnDevice(tree, out, 60, "2 2 2");
        equal(code, 0, stderr);
        match(stderr, /device: w64-baseline: skipped, \d+s left for it/);
        const summary = JSON.parse(stdout.trim().split("\n").at(-1)!);
        deepEqual(summary.device, {
          stages: "",
          step: null,
          parts: 0,
          seconds: summary.device.seconds,
        });
      },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
