/**
 * Whether a program runs here, for the tools that probe the machine before
 * they use it (provisioning, benchmarks).
 *
 * @module
 */

/**
 * Runs `command` with `args` quietly; true when it exits 0, false when it fails or is not
 * installed. Deno throws at once, not through the promise, when the program cannot be spawned,
 * so a `.then(ok, fail)` on `output()` does not catch a missing program.
 */
export async function commandSucceeds(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<boolean> {
  try {
    const { code } = await new Deno.Command(command, {
      args,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return code === 0;
  } catch {
    return false; // not installed
  }
}
