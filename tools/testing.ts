/**
 * What the tools' tests share.
 *
 * @module
 */

import { ROOT } from "./server_process.ts";

/**
 * Runs `deno run -A tools/<script>` (e.g. `eval/faces.ts`) with `args`, as users do; returns its exit code,
 * the lines of its standard error that are not progress lines (nor Deno's
 * "Download ..." lines on a machine that has not cached the packages), and
 * its standard output.
 */
export async function runTool(
  script: string,
  args: string[],
): Promise<{ code: number; lines: string[]; stdout: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `tools/${script}`, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  const chatter = (line: string) => / \d+\/\d+ \[/.test(line) || /^Download /.test(line);
  return {
    code,
    lines: text.trim().split("\n").filter((line) => !chatter(line)),
    stdout: new TextDecoder().decode(stdout),
  };
}
