/**
 * The server as a child process, the way users start it: used by the
 * entry-point tests and `deno task bench:server`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { ChildOutput } from "../core/child_output.ts";
import { UserError } from "../core/user_error.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A started server. */
export interface ServerProcess {
  child: Deno.ChildProcess;
  port: number;
  /** What it printed on stderr up to the ready line. */
  startup: string;
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * A server that exited, or was not ready by the deadline: the message says
 * which, then quotes what it printed (its own `error:` line, say).
 */
export class ServerStartError extends UserError {
  override name = "ServerStartError";
}

/** Options of {@link startServerProcess}. */
export interface ServerProcessOptions {
  env?: Record<string, string>;
  /** A command and arguments to run deno under (e.g. `taskset -c 1`). */
  wrapper?: string[];
  timeoutMs?: number;
}

/**
 * Runs `deno <args>` in the repository root, waits until its stderr matches
 * `ready` (whose first group is the port), and keeps draining stderr; throws
 * {@link ServerStartError} when the server exits first or is not ready in
 * time.
 */
export async function startServerProcess(
  args: string[],
  ready: RegExp,
  options: ServerProcessOptions = {},
): Promise<ServerProcess> {
  const { env = {}, wrapper = [], timeoutMs = 60_000 } = options;
  const command = [...wrapper, Deno.execPath(), ...args];
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const output = new ChildOutput(child.stderr);
  const kill = () => {
    try {
      child.kill();
    } catch {
      // It has exited already.
    }
  };
  // A server that neither gets ready nor exits is stopped at the deadline, which ends its stderr.
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    kill();
  }, timeoutMs);
  const startup = await output.until(ready);
  clearTimeout(timer);
  const match = ready.exec(startup);
  if (!match) {
    kill();
    const { code } = await child.status;
    const printed = startup.trim()
      ? `it printed:\n${startup.trimEnd().replace(/^/gm, "  ")}`
      : "it printed nothing.";
    throw new ServerStartError(
      `the server did not start: ${
        late ? `it was not ready within ${timeoutMs / 1000} s` : `it exited with status ${code}`
      }; ${printed}`,
    );
  }
  // Drains stderr so that the server never blocks on a full pipe.
  output.drain();
  return {
    child,
    port: Number(match[1]),
    startup,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** The `deno task start` command and the line it prints when it listens. */
export const START = {
  args: ["run", "-A", "--frozen", "--lock=server.lock", "main.ts", "--listen"],
  ready: /listening on http:\/\/[\d.]+:(\d+)\//,
};
