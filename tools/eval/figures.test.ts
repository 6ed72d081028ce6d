import { equal, match, rejects } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeImage } from "../../core/image.ts";
import { readBundle } from "../../model/bundle.ts";

const script = fileURLToPath(new URL("./figures.ts", import.meta.url));
const bundle = fileURLToPath(new URL("../../model/default", import.meta.url));

async function figures(args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("deno task figures draws the samples, concept maps and the named concepts' swap strips", async () => {
  const out = await Deno.makeTempDir({ prefix: "igan-figures-" });
  try {
    const { code, stderr } = await figures(["--model", bundle, "--out", out, "--size", "32"]);
    equal(code, 0, stderr);
    const size = async (name: string) => {
      const image = decodeImage(await Deno.readFile(join(out, name)));
      return [image.width, image.height];
    };
    equal((await size("samples.png")).join(), [8 * 32 + 7 * 2, 4 * 32 + 3 * 2].join());
    equal((await size("concepts.png")).join(), [8 * 32 + 7 * 2, 2 * 32 + 2].join());
    // A strip of four swaps for each of mouth, eyes, nose and face that the model names.
    const { manifest } = await readBundle(bundle);
    for (const concept of ["mouth", "eyes", "nose", "face"]) {
      const named = concept === "face"
        ? (manifest.face ?? []).length > 0
        : manifest.groups.some((g) => g.label === concept);
      if (named) {
        equal((await size(`swap-${concept}.png`)).join(), [5 * 32 + 4 * 2, 4 * 32 + 3 * 2].join());
      } else match(stderr, new RegExp(`no group is named ${concept}`));
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("deno task figures removes an earlier model's strips of a concept this one lacks", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-figures-" });
  try {
    // The default bundle with no group named nose (labels are not among the hashed files).
    const copy = join(root, "bundle"), out = join(root, "out");
    await Deno.mkdir(copy);
    for await (const entry of Deno.readDir(bundle)) {
      await Deno.copyFile(join(bundle, entry.name), join(copy, entry.name));
    }
    const manifest = JSON.parse(await Deno.readTextFile(join(copy, "manifest.json")));
    for (const group of manifest.groups) if (group.label === "nose") group.label = null;
    await Deno.writeTextFile(join(copy, "manifest.json"), JSON.stringify(manifest));
    await Deno.mkdir(out);
    await Deno.writeFile(join(out, "swap-nose.png"), new Uint8Array([1]));
    const { code, stderr } = await figures(["--model", copy, "--out", out, "--size", "16"]);
    equal(code, 0, stderr);
    match(stderr, /removed .*swap-nose\.png, an earlier run's strips/);
    await rejects(Deno.stat(join(out, "swap-nose.png")), Deno.errors.NotFound);
    await Deno.stat(join(out, "swap-mouth.png"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task figures refuses an --out folder of photos, before loading the model", async () => {
  const data = await Deno.makeTempDir({ prefix: "igan-figures-" });
  try {
    for (let k = 0; k < 9; k++) {
      await Deno.writeFile(join(data, `00000${k}.jpg`), new Uint8Array([0xff, 0xd8]));
    }
    await Deno.writeFile(join(data, "samples.png"), new Uint8Array([1]));
    const { code, stderr } = await figures(["--model", bundle, "--out", data]);
    equal(code, 1);
    match(stderr, /^error: --out \S+ holds 9 images that are not figures \(000000\.jpg, /);
    equal((await Deno.readFile(join(data, "samples.png"))).length, 1, "nothing written");
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("deno task figures: a bad command line is one error line and exit 2", async () => {
  const { code, stderr } = await figures(["--model", bundle, "--out", "x", "--swap-mode", "all"]);
  equal(code, 2);
  match(stderr, /^error: --swap-mode takes groups, region or wide, got "all"/);
  const tiny = await figures(["--model", bundle, "--out", "x", "--size", "0"]);
  equal(tiny.code, 2);
  match(tiny.stderr, /^error: --size takes 16 to 1024 pixels, got 0\./);
});
