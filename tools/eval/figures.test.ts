import { equal, match } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeImage } from "../../core/image.ts";

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
    // The default model names a mouth and a face, no eyes or nose.
    equal((await size("swap-mouth.png")).join(), [5 * 32 + 4 * 2, 4 * 32 + 3 * 2].join());
    await size("swap-face.png");
    match(stderr, /no group is named eyes/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("deno task figures: a bad command line is one error line and exit 2", async () => {
  const { code, stderr } = await figures(["--model", bundle, "--out", "x", "--swap-mode", "all"]);
  equal(code, 2);
  match(stderr, /^error: --swap-mode takes groups or region, got "all"/);
});
