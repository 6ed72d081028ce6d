import { equal } from "node:assert/strict";
import { USAGE_HINT } from "../../training/command_line.ts";
import { runTool } from "../testing.ts";

/** The tiny model of the training tests, so that a benchmark that did run would be short. */
const TINY = ["--resolution", "32", "--width", "4", "--target-channels", "8", "--latent", "8"];

Deno.test("bench:train refuses the flags of deno task train that it would ignore", async () => {
  const refused = [
    ["--init-from", "/nonexistent/checkpoint.safetensors"],
    ["--init-discriminator"],
    ["--out=/nonexistent/runs"],
    ["--steps", "3"],
  ];
  for (const flag of refused) {
    const { code, lines } = await runTool("bench/train.ts", [
      ...flag,
      ...TINY,
      "--batch",
      "4",
      "--timed-steps",
      "1",
    ]);
    const stderr = lines.join("\n") + "\n";
    equal(code, 2, stderr);
    const name = flag[0].replace(/=.*/, "");
    equal(
      stderr,
      `error: ${name} does not apply: the benchmark times steps from fresh weights on 512 ` +
        "synthetic faces and writes no run; it takes --timed-steps and the model flags of " +
        `deno task train.\n${USAGE_HINT}\n`,
    );
  }
});
