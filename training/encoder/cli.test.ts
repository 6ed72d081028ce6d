import { equal } from "node:assert/strict";
import { USAGE_HINT } from "../command_line.ts";
import { main } from "./cli.ts";
import { runCapturingErrors } from "../testing/capture_errors.ts";

/** Runs the command with its error lines captured. */
const run = (args: string[]) => runCapturingErrors(main, args);

Deno.test("train:encoder refuses a setting out of range as a usage error naming its flag, before reading the checkpoint", async () => {
  // The checkpoint is not there: reading it would end the command with status 1 instead.
  const generator = ["--generator", "/nonexistent/gan.safetensors"];
  const cases: [string[], string][] = [
    [["--sample-every", "0"], "--sample-every must be a positive integer, got 0."],
    [["--checkpoint-every", "0"], "--checkpoint-every must be a positive integer, got 0."],
    [["--keep-checkpoints", "0"], "--keep-checkpoints must be a positive integer, got 0."],
    [["--batch", "0"], "--batch must be a positive integer, got 0."],
    [["--steps", "0"], "--steps must be a positive integer, got 0."],
    [["--width", "0"], "--width must be a positive integer, got 0."],
    [["--lr", "0"], "--lr must be a positive number, got 0."],
    [["--pixel", "-1"], "--pixel must be a number >= 0, got -1."],
    [
      ["--pixel", "0", "--features", "0", "--cycle", "0"],
      "at least one loss weight must be above 0.",
    ],
  ];
  for (const [flags, message] of cases) {
    const { status, errors } = await run([...generator, ...flags]);
    equal(status, 2, errors);
    equal(errors, `error: ${message}\n${USAGE_HINT}`);
  }
});
