/**
 * Whether a program runs here, for the tools that probe the machine before
 * they use it (provisioning, benchmarks).
 *
 * @module
 */

/**
 * Runs `command` with `args` quietly; its exit code, or null when it is not installed. Deno
 * throws at once, not through the promise, when a program cannot be spawned, so a
 * `.then(ok, fail)` on `output()` does not catch a missing one.
 */
export async function commandStatus(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<number | null> {
  try {
    const { code } = await new Deno.Command(command, {
      args,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return code;
  } catch {
    return null;
  }
}

/** Whether `command` with `args` runs and exits 0 (see {@link commandStatus}). */
export async function commandSucceeds(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<boolean> {
  return await commandStatus(command, args, env) === 0;
}
