import { deepEqual, equal, match, throws } from "node:assert/strict";
import {
  integerFlag,
  isUserError,
  parseFlags,
  positiveIntegerFlag,
  REPEATED_SIGNAL_MS,
  runCommandLine,
  SEED_ROOM,
  seedFlag,
  USAGE_HINT,
  UsageError,
  userErrorMessage,
} from "./command_line.ts";
import { ChildOutput } from "../core/child_output.ts";
import { UserError } from "../core/user_error.ts";

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
    const sink = { isTerminal: false, write: (text) => console.log(text.trim()) };
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
  match(
    stdout,
    /stopping: finishing this step[^]*\nquitting now, without a checkpoint of this step/,
  );
});

Deno.test("a program whose temporary folder is gone still stops on Ctrl-C, with one line", async () => {
  // Deno keeps a signal caught once a listener was added: eval:filters had then ignored Ctrl-C.
  const module = new URL("./command_line.ts", import.meta.url).href;
  const folder = await Deno.makeTempDir();
  const script = `
    import { temporaryFolder } from ${JSON.stringify(module)};
    const remove = temporaryFolder(${JSON.stringify(folder)});
    await remove();
    console.log("ready");
    for (let k = 0; k < 200; k++) await new Promise((r) => setTimeout(r, 50));
    console.log("finished");`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = new ChildOutput(child.stdout);
  await output.until(/ready/);
  child.kill("SIGINT");
  const [{ code }, stdout, stderr] = await Promise.all([
    child.status,
    output.rest(),
    new Response(child.stderr).text(),
  ]);
  equal(code, 130);
  equal(stdout.includes("finished"), false, stdout);
  equal(stderr.trim(), "stopped.");
});

Deno.test("parseFlags: a negative number after a flag is its value, for the flag's check to refuse", () => {
  const options = { steps: { type: "string" }, quiet: { type: "boolean" } } as const;
  const { steps } = parseFlags(["--steps", "-5", "--quiet"], options);
  equal(steps, "-5");
  throws(() => integerFlag("steps", steps), /--steps takes a non-negative integer, got "-5"/);
  throws(() => positiveIntegerFlag("steps", steps), /--steps takes a positive integer, got "-5"/);
  throws(() => positiveIntegerFlag("steps", "0"), /--steps takes a positive integer, got "0"/);
  equal(positiveIntegerFlag("steps", "7"), 7);
  equal(positiveIntegerFlag("steps", undefined), undefined);
  deepEqual(parseFlags(["--steps=3"], options), { steps: "3" });
  throws(() => parseFlags(["--bogus"], options), UsageError);
});

Deno.test("runCommandLine: a usage error is one line and a hint; a path error one line", async () => {
  const lines: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    const program = (run: () => Promise<void>) => ({
      usage: "Usage: a long text\n".repeat(40),
      parse: (args: string[]) => {
        if (args.length > 0) throw new UsageError(`unknown ${args[0]}.`);
        return {};
      },
      run,
    });
    equal(await runCommandLine(program(() => Promise.resolve()), ["--x"]), 2);
    deepEqual(lines.splice(0), [`error: unknown --x.\n${USAGE_HINT}`]);
    // An output folder that is a file, as Deno.mkdir reports it.
    const file = await Deno.makeTempFile();
    try {
      const mkdir = () => Deno.mkdir(file, { recursive: true });
      equal(await runCommandLine(program(mkdir), []), 1);
      equal(lines.length, 1);
      match(lines[0], new RegExp(`^error: .*${file}`));
    } finally {
      await Deno.remove(file);
    }
  } finally {
    console.error = consoleError;
  }
});

Deno.test("positiveScriptFlag: a value, or one error line, the hint and status 2", async () => {
  const module = new URL("./command_line.ts", import.meta.url).href;
  const run = async (text: string) => {
    const script = `import { positiveScriptFlag } from ${JSON.stringify(module)};
      console.log(positiveScriptFlag("rounds", ${JSON.stringify(text)}));`;
    const out = await new Deno.Command(Deno.execPath(), { args: ["eval", script] }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  };
  const good = await run("3");
  deepEqual([good.code, good.stdout], [0, "3\n"]);
  for (const bad of ["0", "-1", "1.5", "x", ""]) {
    const r = await run(bad);
    equal(r.code, 2, bad);
    equal(r.stderr, `error: --rounds takes a positive integer, got "${bad}".\n${USAGE_HINT}\n`);
  }
});

Deno.test("userErrorMessage: file-system errors in words, naming their path", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/notes.txt`;
  await Deno.writeTextFile(file, "x");
  const messageOf = async (op: () => Promise<unknown>) => {
    try {
      await op();
    } catch (error) {
      return userErrorMessage(error as Error);
    }
    throw new Error("the operation did not fail");
  };
  equal(
    await messageOf(() => Deno.mkdir(file, { recursive: true })),
    `${file} is a file, where a folder is to be made: give another path.`,
  );
  match(
    await messageOf(() => Deno.readFile(`${file}/x`)),
    /notes\.txt\/x cannot be reached: a part of it is a file/,
  );
  match(
    await messageOf(() => Deno.readFile(`${dir}/missing`)),
    /missing does not exist \(readfile\)\.$/,
  );
  equal(userErrorMessage(new Error("plain words")), "plain words");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a full or read-only disk is a user error, in one line naming the path", () => {
  // As Deno throws it (measured on a full tmpfs): a plain Error with the system's code.
  const full = Object.assign(
    new Error("No space left on device (os error 28): writefile '/runs/x/config.json'"),
    { code: "ENOSPC" },
  );
  equal(isUserError(full), true);
  equal(userErrorMessage(full), "/runs/x/config.json: No space left on device (writefile).");
  equal(isUserError(Object.assign(new Error("Read-only file system"), { code: "EROFS" })), true);
  equal(isUserError(Object.assign(new Error("Broken pipe"), { code: "EPIPE" })), false);
  equal(isUserError(new TypeError("a bug")), false);
});

Deno.test("isUserError: any UserError, whichever module throws it", () => {
  class BadBundle extends UserError {
    override name = "BadBundle";
  }
  equal(isUserError(new BadBundle("model/x: no manifest.json")), true);
  equal(isUserError(new Error("a bug")), false);
});

Deno.test("seedFlag leaves room below 2^32 for the seeds drawn after it", () => {
  equal(seedFlag(undefined), undefined);
  equal(seedFlag("1000000"), 1_000_000);
  equal(seedFlag(String(2 ** 32 - SEED_ROOM)), 2 ** 32 - SEED_ROOM);
  throws(() => seedFlag(String(2 ** 32 - SEED_ROOM + 1)), UsageError);
  throws(() => seedFlag("4294967296"), /--seed takes 0\.\.4293967296, got 4294967296/);
});
