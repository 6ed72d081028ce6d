import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { encodePng } from "../core/image.ts";
import { ConfigError, resolveConfig } from "./config.ts";
import { continuedConfig, continuedRunName, parseTrainArgs, type TrainCommand } from "./cli.ts";
import { UsageError } from "./command_line.ts";

Deno.test("parseTrainArgs: a new run takes flags into the config", () => {
  const command = parseTrainArgs([
    "--data",
    "faces/",
    "--width",
    "8",
    "--target-channels",
    "16",
    "--lr-g",
    "1e-4",
    "--no-flip",
    "--loss",
    "hinge",
  ]);
  if (command === "help" || command.kind !== "new") throw new Error("expected a new run");
  deepEqual(command.config.data, { kind: "folder", path: "faces/" });
  equal(command.config.network.width, 8);
  equal(command.config.network.targetChannels, 16);
  equal(command.config.lrG, 1e-4);
  equal(command.config.flip, false);
  equal(command.config.loss, "hinge");
  equal(command.name, "faces-64");
  equal(command.out, "runs");
  equal(command.config.network.architecture, "upsample");
  deepEqual(command.config.augment, []);
  const dcgan = parseTrainArgs([
    "--data",
    "faces/",
    "--architecture",
    "dcgan",
    "--augment",
    "none",
    "--ema-images",
    "0",
  ]);
  if (dcgan === "help" || dcgan.kind !== "new") throw new Error("expected a new run");
  equal(dcgan.config.network.architecture, "dcgan");
  deepEqual(dcgan.config.augment, []);
  equal(dcgan.config.emaImages, 0);
  const some = parseTrainArgs(["--synthetic", "--augment", "cutout,color"]);
  if (some === "help" || some.kind !== "new") throw new Error("expected a new run");
  deepEqual(some.config.augment, ["cutout", "color"]);
});

Deno.test("parseTrainArgs: --interpretable with its flags, and fine-tuning with --init-from", () => {
  const command = parseTrainArgs([
    "--synthetic",
    "--interpretable",
    "--groups",
    "8",
    "--interp-every",
    "10",
    "--lambda2-g",
    "0.5",
    "--lambda1",
    "2",
    "--other-groups",
    "mean",
    "--energy-pool",
    "2",
    "--fixed-share-weight",
    "0.5",
    "--fixed-share-limit",
    "0.6",
    "--energy-every-step",
    "--energy-normalize",
    "--init-from",
    "runs/00000-x/checkpoints/step-000500.safetensors",
    "--init-discriminator",
  ]);
  if (command === "help" || command.kind !== "new") throw new Error("expected a new run");
  equal(command.config.interpretable?.groups, 8);
  equal(command.config.interpretable?.every, 10);
  equal(command.config.interpretable?.lambda2G, 0.5);
  equal(command.config.interpretable?.lambda1, 2);
  equal(command.config.interpretable?.otherGroups, "mean");
  equal(command.config.interpretable?.energyPool, 2);
  equal(command.config.interpretable?.fixedShareWeight, 0.5);
  equal(command.config.interpretable?.fixedShareLimit, 0.6);
  equal(command.config.interpretable?.energyEveryStep, true);
  equal(command.config.interpretable?.energyNormalize, true);
  equal(command.config.interpretable?.lambda3Start, 3e-2, "the paper's defaults fill the rest");
  equal(command.config.initFrom, "runs/00000-x/checkpoints/step-000500.safetensors");
  equal(command.config.initDiscriminator, true);
  const baseline = parseTrainArgs(["--synthetic"]);
  if (baseline === "help" || baseline.kind !== "new") throw new Error("expected a new run");
  equal(baseline.config.interpretable, null);
  for (
    const flags of [
      ["--groups", "8"],
      ["--energy-every-step"],
      ["--energy-normalize"],
      ["--lambda2-g", "1"],
      ["--fixed-share-weight", "1"],
    ]
  ) {
    throws(() => parseTrainArgs(["--synthetic", ...flags]), /only apply with --interpretable/);
  }
  throws(
    () => parseTrainArgs(["--synthetic", "--interpretable", "--energy-pool", "0"]),
    (e) =>
      e instanceof ConfigError &&
      /^--energy-pool must be a positive integer/.test(e.message),
  );
  throws(
    () => parseTrainArgs(["--synthetic", "--interpretable", "--other-groups", "max"]),
    (e) =>
      e instanceof ConfigError &&
      /^--other-groups must be one of sum, mean/.test(e.message),
  );
  throws(
    () => parseTrainArgs(["--synthetic", "--init-discriminator"]),
    (e) =>
      e instanceof ConfigError &&
      /^--init-discriminator needs --init-from:/.test(e.message),
  );
  const warmed = parseTrainArgs([
    "--synthetic",
    "--init-from",
    "a.safetensors",
    "--discriminator-warmup",
    "200",
  ]);
  if (warmed === "help" || warmed.kind !== "new") throw new Error("expected a new run");
  equal(warmed.config.discriminatorWarmup, 200);
  equal(baseline.config.discriminatorWarmup, 0);
  throws(
    () => parseTrainArgs(["--synthetic", "--discriminator-warmup", "200"]),
    (e) =>
      e instanceof ConfigError &&
      /^--discriminator-warmup needs --init-from:/.test(e.message),
  );
  throws(
    () => parseTrainArgs(["--synthetic", "--interpretable", "--groups", "999"]),
    (e) => e instanceof ConfigError && /must not exceed/.test(e.message),
  );
});

Deno.test("parseTrainArgs: --resume takes only schedule flags and --data (and --out, --name, --augment, --r1, --lr-g, --lr-d, --lambda1, --lambda2-g, --fixed-share-weight, --fixed-share-limit, --freeze-head, --train-head for a file)", () => {
  deepEqual(parseTrainArgs(["--resume", "runs/00001-x", "--steps", "900"]), {
    kind: "resume",
    run: "runs/00001-x",
    overrides: { steps: 900 },
    changesSettings: false,
    out: "runs",
    name: undefined,
    cacheDir: undefined,
  });
  deepEqual(parseTrainArgs(["--resume", "c.safetensors", "--out", "o", "--name", "n"]), {
    kind: "resume",
    run: "c.safetensors",
    overrides: {},
    changesSettings: false,
    out: "o",
    name: "n",
    cacheDir: undefined,
  });
  deepEqual(
    parseTrainArgs([
      "--resume",
      "c.safetensors",
      "--augment",
      "translation,cutout",
      "--lr-d",
      "1e-4",
      "--r1",
      "0.5",
    ]),
    {
      kind: "resume",
      run: "c.safetensors",
      overrides: { augment: ["translation", "cutout"], lrD: 1e-4, r1Gamma: 0.5 },
      changesSettings: true,
      out: "runs",
      name: undefined,
      cacheDir: undefined,
    },
  );
  deepEqual(parseTrainArgs(["--resume", "c.safetensors", "--lambda1", "1", "--lambda2-g", "0.5"]), {
    kind: "resume",
    run: "c.safetensors",
    overrides: { interpretable: { lambda1: 1, lambda2G: 0.5 } },
    changesSettings: true,
    out: "runs",
    name: undefined,
    cacheDir: undefined,
  });
  deepEqual(
    parseTrainArgs([
      "--resume",
      "c.safetensors",
      "--fixed-share-weight",
      "2",
      "--fixed-share-limit",
      "0.5",
    ]),
    {
      kind: "resume",
      run: "c.safetensors",
      overrides: { interpretable: { fixedShareWeight: 2, fixedShareLimit: 0.5 } },
      changesSettings: true,
      out: "runs",
      name: undefined,
      cacheDir: undefined,
    },
  );
  deepEqual(parseTrainArgs(["--resume", "c.safetensors", "--freeze-head"]), {
    kind: "resume",
    run: "c.safetensors",
    overrides: { freezeHead: true },
    changesSettings: true,
    out: "runs",
    name: undefined,
    cacheDir: undefined,
  });
  const trainHead = parseTrainArgs(["--resume", "c.safetensors", "--train-head"]);
  equal((trainHead as Extract<TrainCommand, { kind: "resume" }>).overrides.freezeHead, false);
  throws(
    () => parseTrainArgs(["--resume", "c.safetensors", "--freeze-head", "--train-head"]),
    /give --freeze-head or --train-head, not both/,
  );
  throws(
    () => parseTrainArgs(["--resume", "r", "--width", "8"]),
    /--width cannot be combined with --resume/,
  );
  throws(
    () => parseTrainArgs(["--resume", "r", "--groups", "8"]),
    /--groups cannot be combined with --resume/,
  );
  // Where the run's images are now.
  deepEqual(
    (parseTrainArgs(["--resume", "r", "--data", "/moved/faces"]) as Extract<
      TrainCommand,
      { kind: "resume" }
    >).overrides,
    { data: { kind: "folder", path: "/moved/faces" } },
  );
});

Deno.test("continuedConfig: the run's settings with the changes, interpretable ones merged", () => {
  const interpretable = resolveConfig({
    interpretable: { groups: 4, lambda1: 2, lambda2G: 1 },
    lrG: 2e-4,
  });
  const continued = continuedConfig(
    interpretable,
    { steps: 900, lrG: 1e-4, interpretable: { lambda1: 0.5 } },
    "c.safetensors",
  );
  equal(continued.steps, 900);
  equal(continued.lrG, 1e-4);
  deepEqual(continued.interpretable, { ...interpretable.interpretable!, lambda1: 0.5 });
  deepEqual(continuedConfig(interpretable, {}, "c.safetensors"), interpretable);
  const plain = resolveConfig();
  deepEqual(continuedConfig(plain, { r1Gamma: 0.1 }, "p.safetensors").interpretable, null);
  throws(
    () => continuedConfig(plain, { interpretable: { lambda1: 1 } }, "p.safetensors"),
    (e) => e instanceof ConfigError && /p\.safetensors is a plain GAN's/.test(e.message),
  );
  const folder = resolveConfig({ data: { kind: "folder", path: "faces" } });
  deepEqual(
    continuedConfig(folder, { data: { kind: "folder", path: "/moved" } }, "c.safetensors").data,
    { kind: "folder", path: "/moved" },
  );
  throws(
    () => continuedConfig(plain, { data: { kind: "folder", path: "/x" } }, "s.safetensors"),
    (e) =>
      e instanceof ConfigError && /s\.safetensors trained on the synthetic set/.test(e.message),
  );
  // The merged settings are checked as a new run's are.
  throws(
    () => continuedConfig(interpretable, { interpretable: { lambda1: -1 } }, "c.safetensors"),
    ConfigError,
  );
});

Deno.test("continuedRunName: the run's name for a run's checkpoint, else the file's", () => {
  equal(continuedRunName("runs/00003-faces-64/checkpoints/step-000040.safetensors"), "faces-64");
  equal(continuedRunName("checkpoints/celeba-64.safetensors"), "celeba-64");
  equal(continuedRunName("/tmp/step-000040.safetensors"), "step-000040");
});

Deno.test("parseTrainArgs: unknown, malformed and conflicting flags are UsageErrors", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--data", "d", "--widht", "8"], /Unknown option '--widht'/],
    [["--data", "d", "--steps", "ten"], /--steps takes a positive integer, got "ten"/],
    [["--data", "d", "--steps", "1.5"], /--steps takes a positive integer/],
    [["--data", "d", "--steps", "0"], /--steps takes a positive integer, got "0"/],
    [["--data", "d", "--batch", "0"], /--batch takes a positive integer, got "0"/],
    [["--data", "d", "--lr-g", "fast"], /--lr-g takes a number/],
    [["--data"], /argument missing/],
    [[], /exactly one of --data/],
    [["--data", "d", "--synthetic"], /exactly one of --data/],
    [["--data", "d", "extra"], /positional/],
    [["--data", "d", "--synthetic-count", "9"], /only applies with --synthetic/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" ") || "(nothing)", () => {
      throws(() => parseTrainArgs(args), (e) => e instanceof UsageError && message.test(e.message));
    });
  }
  throws(
    () => parseTrainArgs(["--synthetic", "--resolution", "48"]),
    (e) => e instanceof ConfigError && /^--resolution must be one of 32, 64/.test(e.message),
  );
  throws(
    () => parseTrainArgs(["--synthetic", "--architecture", "stylegan"]),
    (e) =>
      e instanceof ConfigError &&
      /^--architecture must be one of upsample, dcgan/.test(e.message),
  );
  throws(
    () => parseTrainArgs(["--synthetic", "--augment", "color,rotate"]),
    (e) =>
      e instanceof ConfigError &&
      /augment takes a list of color, translation, cutout/.test(e.message),
  );
});

/** A folder that exists and is no run. */
const NOT_A_RUN = fileURLToPath(new URL("../docs", import.meta.url));

async function runCli(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fileURLToPath(new URL("./cli.ts", import.meta.url)), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stderr: decode(output.stderr), stdout: decode(output.stdout) };
}

Deno.test("deno task train: bad input gives one clear message and no stack trace", async (t) => {
  await t.step("unknown flag: exit 2 with a hint of --help", async () => {
    const { code, stderr } = await runCli(["--synthetic", "--bogus"]);
    equal(code, 2);
    match(stderr, /^error: Unknown option '--bogus'/);
    match(stderr, /\n\(--help prints the usage\)\n$/);
    ok(!/\n\s+at /.test(stderr), stderr);
  });
  await t.step("missing data folder: exit 1 naming the folder", async () => {
    const { code, stderr } = await runCli(["--data", "/nonexistent/faces"]);
    equal(code, 1);
    match(stderr, /error: the data folder \/nonexistent\/faces does not exist/);
    ok(!/\n\s+at /.test(stderr), stderr);
  });
  await t.step("--resume of a folder that is not a run: exit 1", async () => {
    const { code, stderr } = await runCli(["--resume", "/nonexistent/run"]);
    equal(code, 1);
    match(
      stderr,
      /error: \/nonexistent\/run does not exist; --resume takes a run folder or a checkpoint file\./,
    );
    const notRun = await runCli(["--resume", NOT_A_RUN]);
    equal(notRun.code, 1);
    match(notRun.stderr, /docs is not a run folder/);
  });
  await t.step("--resume of a file that is not a checkpoint: exit 1 naming it", async () => {
    const file = await Deno.makeTempFile({ suffix: ".safetensors" });
    try {
      await Deno.writeTextFile(file, "not a checkpoint");
      const { code, stderr } = await runCli(["--resume", file]);
      equal(code, 1);
      match(stderr, /error: .*\.safetensors is not a readable checkpoint/);
      ok(!/\n\s+at /.test(stderr), stderr);
    } finally {
      await Deno.remove(file);
    }
  });
  await t.step("--out with --resume of a run folder: exit 1", async () => {
    const { code, stderr } = await runCli(["--resume", NOT_A_RUN, "--out", "x"]);
    equal(code, 1);
    match(stderr, /error: --out, --name, .* apply when --resume names a checkpoint file/);
  });
  await t.step("--augment with --resume of a run folder: exit 1", async () => {
    const { code, stderr } = await runCli(["--resume", NOT_A_RUN, "--augment", "color"]);
    equal(code, 1);
    match(stderr, /error: .*--augment.* apply when --resume names a checkpoint file/);
  });
  await t.step("--freeze-head on a new run, a negative --steps: exit 2 saying why", async () => {
    const head = await runCli(["--synthetic", "--freeze-head"]);
    equal(head.code, 2);
    match(head.stderr, /^error: --freeze-head and --train-head continue a run/);
    const negative = await runCli(["--synthetic", "--steps", "-5"]);
    equal(negative.code, 2);
    match(negative.stderr, /^error: --steps takes a positive integer, got "-5"/);
  });
  await t.step("a folder as --init-from, a file as a run folder: exit 1 saying so", async () => {
    const folder = await Deno.makeTempDir();
    const file = await Deno.makeTempFile();
    try {
      const init = await runCli(["--synthetic", "--init-from", folder]);
      equal(init.code, 1, init.stderr);
      match(init.stderr, /error: .* is a folder; pass a checkpoint file/);
      const { code, stderr } = await runCli(["--resume", file, "--out", folder]);
      equal(code, 1, stderr);
      ok(!/\n\s+at /.test(stderr), stderr);
    } finally {
      await Deno.remove(folder);
      await Deno.remove(file);
    }
  });
  await t.step("a file as --out: exit 1 saying so, before the data load", async () => {
    const file = await Deno.makeTempFile();
    try {
      const { code, stderr } = await runCli(["--data", "/nonexistent/faces", "--out", file]);
      equal(code, 1);
      match(stderr, /^error: --out \S+ is a file; give the folder runs go under\./);
    } finally {
      await Deno.remove(file);
    }
  });
  await t.step("a missing --init-from: exit 1 naming it, before the data load", async () => {
    const { code, stderr } = await runCli(["--data", "/nonexistent/faces", "--init-from", "/no/x"]);
    equal(code, 1, stderr);
    match(stderr, /^error: the checkpoint \/no\/x \(--init-from\) does not exist\./);
  });
  await t.step("--help prints the usage and exits 0", async () => {
    const { code, stdout } = await runCli(["--help"]);
    equal(code, 0);
    match(stdout, /deno task train --data <folder>/);
  });
});

const TINY_FLAGS = [
  "--synthetic",
  "--synthetic-count",
  "16",
  "--resolution",
  "32",
  "--width",
  "4",
  "--target-channels",
  "8",
  "--latent",
  "8",
  "--batch",
  "4",
  "--checkpoint-every",
  "2",
  "--sample-every",
  "2",
];

/** A tiny run trained to step 4 (checkpoints at 2 and 4); returns its folder. */
async function tinyRunFolder(root: string): Promise<string> {
  const { code, stderr } = await runCli([...TINY_FLAGS, "--steps", "4", "--out", root]);
  equal(code, 0, stderr);
  return join(root, [...Deno.readDirSync(root)][0].name);
}

Deno.test("deno task train: fewer images than a batch is a warning", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-cli-" });
  try {
    const flags = TINY_FLAGS.map((f, k) => TINY_FLAGS[k - 1] === "--synthetic-count" ? "3" : f);
    const { code, stderr } = await runCli([...flags, "--steps", "1", "--out", root]);
    equal(code, 0, stderr);
    match(stderr, /^warning: 3 images for batches of 4: each batch repeats them/m);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Flips one byte near the end of a file (inside the tensor data). */
function flipByte(file: string): void {
  const bytes = Deno.readFileSync(file);
  bytes[bytes.length - 5] ^= 0x40;
  Deno.writeFileSync(file, bytes);
}

Deno.test("deno task train: corrupt checkpoints are named, and --resume takes the newest valid one", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "igan-cli-" });
  try {
    const run = await tinyRunFolder(root);
    const checkpoints = join(run, "checkpoints");
    await t.step("a flipped byte in the newest: a warning naming it, then step 2", async () => {
      flipByte(join(checkpoints, "step-000004.safetensors"));
      const { code, stderr } = await runCli(["--resume", run, "--steps", "6"]);
      equal(code, 0, stderr);
      match(
        stderr,
        /warning: \S*step-000004\.safetensors is not a readable checkpoint: .*checksum/,
      );
      match(stderr, /resuming .* at step 2 of 6/);
      ok(!/\n\s+at /.test(stderr), stderr);
    });
    await t.step("every checkpoint corrupt: one error line, exit 1", async () => {
      for (const entry of Deno.readDirSync(checkpoints)) flipByte(join(checkpoints, entry.name));
      const { code, stderr } = await runCli(["--resume", run, "--steps", "8"]);
      equal(code, 1, stderr);
      match(stderr, /error: none of the \d+ checkpoints in .* is readable/);
      ok(!/\n\s+at /.test(stderr), stderr);
      ok(!/adapter:/.test(stderr), "the checkpoints are read before the data and the engine");
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task train: a checkpoint of other networks in a run folder is named, with why", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-cli-" });
  try {
    const run = await tinyRunFolder(join(root, "a"));
    const wider = TINY_FLAGS.map((f, k) => TINY_FLAGS[k - 1] === "--width" ? "6" : f);
    const other = await runCli([...wider, "--steps", "2", "--out", join(root, "b")]);
    equal(other.code, 0, other.stderr);
    const otherRun = join(root, "b", [...Deno.readDirSync(join(root, "b"))][0].name);
    await Deno.copyFile(
      join(otherRun, "checkpoints", "step-000002.safetensors"),
      join(run, "checkpoints", "step-000009.safetensors"),
    );
    const { code, stderr } = await runCli(["--resume", run, "--steps", "12"]);
    equal(code, 1, stderr);
    match(
      stderr,
      /error: \S*step-000009\.safetensors: "\S+" is \[[\d, ]+\] in the checkpoint, \[[\d, ]+\] in this model: the checkpoint belongs to other network sizes: it is no checkpoint of this run, whose config\.json gives other networks\./,
    );
    ok(!/give --width/.test(stderr), "no advice that --resume cannot take");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task train: --data says where a run's images moved; other images are refused", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-cli-" });
  try {
    const faces = join(root, "faces"), moved = join(root, "moved");
    await Deno.mkdir(faces);
    for (let k = 0; k < 8; k++) {
      const data = new Uint8Array(32 * 32 * 3).fill(30 * k);
      await Deno.writeFile(join(faces, `${k}.png`), encodePng({ width: 32, height: 32, data }));
    }
    const flags = TINY_FLAGS.filter((f, k) =>
      f !== "--synthetic" && f !== "--synthetic-count" && TINY_FLAGS[k - 1] !== "--synthetic-count"
    );
    const cache = ["--cache-dir", join(root, "cache")];
    const first = await runCli([
      "--data",
      faces,
      ...flags,
      ...cache,
      "--steps",
      "3",
      "--out",
      root,
    ]);
    equal(first.code, 0, first.stderr);
    const run = join(root, [...Deno.readDirSync(root)].find((e) => /^\d{5}-/.test(e.name))!.name);
    await Deno.rename(faces, moved);
    const gone = await runCli(["--resume", run, "--steps", "4", ...cache]);
    equal(gone.code, 1);
    match(gone.stderr, /error: the data folder \S+faces does not exist; pass a folder/);
    const resumed = await runCli(["--resume", run, "--steps", "4", "--data", moved, ...cache]);
    equal(resumed.code, 0, resumed.stderr);
    // Fewer images reorder every epoch: the run's batches cannot continue.
    await Deno.remove(join(moved, "7.png"));
    const fewer = await runCli(["--resume", run, "--steps", "6", ...cache]);
    equal(fewer.code, 1);
    match(
      fewer.stderr,
      /^error: the data has 7 images, but the run was trained on 8: resuming needs the same images/m,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task train: --init-from of other networks names the flags its run had", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-cli-" });
  try {
    const run = await tinyRunFolder(join(root, "a"));
    const wider = TINY_FLAGS.map((f, k) => TINY_FLAGS[k - 1] === "--width" ? "6" : f);
    const { code, stderr } = await runCli([
      ...wider,
      "--init-from",
      join(run, "checkpoints", "step-000004.safetensors"),
      "--out",
      join(root, "b"),
    ]);
    equal(code, 1, stderr);
    match(stderr, /in this model: .*: its run had --width 4: give it too\.$/m);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task train: a run folder another process trains is refused; a lock left by a gone one is not", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-cli-" });
  try {
    const run = await tinyRunFolder(root);
    const lock = join(run, "training.lock");
    equal(await Deno.stat(lock).then(() => true, () => false), false, "released at the end");
    // This test's own process stands for a trainer that is running.
    await Deno.writeTextFile(lock, String(Deno.pid));
    const busy = await runCli(["--resume", run, "--steps", "6"]);
    equal(busy.code, 1);
    match(
      busy.stderr,
      new RegExp(`^error: \\S+ is being trained by process ${Deno.pid}; stop it`, "m"),
    );
    // A process that has ended: its lock is taken over.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    await Deno.writeTextFile(lock, String(gone.pid));
    const resumed = await runCli(["--resume", run, "--steps", "6"]);
    equal(resumed.code, 0, resumed.stderr);
    equal(await Deno.stat(lock).then(() => true, () => false), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task train: a run folder that cannot be written stops with one line naming the last good checkpoint", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-cli-" });
  try {
    const run = await tinyRunFolder(root);
    // The samples folder replaced by a file: the next sample grid cannot be written (ENOTDIR),
    // as a full disk (ENOSPC) would fail a write.
    await Deno.remove(join(run, "samples"), { recursive: true });
    await Deno.writeTextFile(join(run, "samples"), "not a folder");
    const { code, stderr } = await runCli(["--resume", run, "--steps", "8"]);
    equal(code, 1, stderr);
    match(
      stderr,
      /error: could not write the sample grid of step 6 in .*: Not a directory.*The last good checkpoint is .*step-000004\.safetensors \(step 4\)/,
    );
    ok(!/\n\s+at /.test(stderr), stderr);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task train: a checkpoint file continues with DiffAugment turned on, which its new run folder records", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-cli-" });
  try {
    const run = await tinyRunFolder(root);
    const checkpoint = join(run, "checkpoints", "step-000004.safetensors");
    const out = join(root, "continued");
    const { code, stderr } = await runCli([
      "--resume",
      checkpoint,
      "--steps",
      "6",
      "--augment",
      "translation,cutout",
      "--lr-d",
      "0.0001",
      "--out",
      out,
    ]);
    equal(code, 0, stderr);
    match(stderr, /continuing .* at step 4 of 6/);
    const folder = join(out, [...Deno.readDirSync(out)][0].name);
    const config = JSON.parse(Deno.readTextFileSync(join(folder, "config.json")));
    deepEqual(config.augment, ["translation", "cutout"]);
    equal(config.lrD, 0.0001);
    ok(Deno.statSync(join(folder, "samples", "reals.png")).size > 0, "the new folder's reals grid");
    const logged = Deno.readTextFileSync(join(folder, "log.jsonl")).trim().split("\n")
      .map((line) => JSON.parse(line)).filter((r) => "lossD" in r).map((r) => r.step);
    deepEqual(logged.at(-1), 6);
    // Loss weights of the interpretable GAN: one error line for this plain GAN's checkpoint.
    const plain = await runCli(["--resume", checkpoint, "--lambda1", "1", "--out", out]);
    equal(plain.code, 1, plain.stderr);
    match(
      plain.stderr,
      /error: --lambda1, --lambda2-g, --fixed-share-weight and --fixed-share-limit change an interpretable run's settings; .* is a plain GAN's\./,
    );
    ok(!/\n\s+at /.test(plain.stderr), plain.stderr);
    // Nothing left to train: the checkpoint and the run folder are at step 4, the run's end.
    for (const target of [checkpoint, run]) {
      const done = await runCli(["--resume", target]);
      equal(done.code, 1, done.stderr);
      match(
        done.stderr,
        /error: .* is at step 4 already, and the run is to end at step 4: give --steps above 4/,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
