import { equal, match } from "node:assert/strict";
import { REPEATED_SIGNAL_MS } from "./command_line.ts";
import { ChildOutput } from "../core/child_output.ts";

/**
 * Runs work under `withStopSignal` in a child that says "ready", then sends it
 * SIGINT at each of `delaysMs` (from the first); once stopped, the work takes
 * `finishMs` to finish, as a checkpoint's write does.
 */
async function stopWith(
  delaysMs: number[],
  finishMs: number,
): Promise<{ code: number; stdout: string }> {
  const module = new URL("./command_line.ts", import.meta.url).href;
  const progress = new URL("../core/progress.ts", import.meta.url).href;
  const script = `
    import { withStopSignal } from ${JSON.stringify(module)};
    import { Progress } from ${JSON.stringify(progress)};
    const sink = { isTerminal: false, write: () => {} };
    await withStopSignal(new Progress("work", 1, { sink }), async (signal) => {
      console.log("ready");
      while (!signal.aborted) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, ${finishMs}));
      console.log("stopped cleanly");
    });`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const output = new ChildOutput(child.stdout);
  await output.until(/ready/);
  const started = performance.now();
  for (const delay of delaysMs) {
    await new Promise((r) => setTimeout(r, Math.max(0, started + delay - performance.now())));
    child.kill("SIGINT");
  }
  const stdout = await output.rest();
  return { code: (await child.status).code, stdout };
}

Deno.test("withStopSignal: a copy of the stop signal a moment later still lets the work finish", async () => {
  // Under `deno task`, a terminal's Ctrl-C reaches the command from the terminal and again from
  // the task runner.
  const { code, stdout } = await stopWith([0, 50], 300);
  equal(code, 0, stdout);
  match(stdout, /stopped cleanly/);
});

Deno.test("withStopSignal: another signal after the repeat window quits at once with 130", async () => {
  const { code, stdout } = await stopWith([0, REPEATED_SIGNAL_MS + 200], REPEATED_SIGNAL_MS + 3000);
  equal(code, 130, stdout);
  equal(stdout.includes("stopped cleanly"), false, stdout);
});
