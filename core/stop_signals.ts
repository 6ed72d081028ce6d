/**
 * The signals that ask a process to stop, shared by the server and the
 * command lines.
 *
 * @module
 */

/**
 * Ctrl-C, and a supervisor's SIGTERM (Ctrl-Break on Windows), each with the
 * exit status a shell gives it (128 + its number).
 */
export const STOP_SIGNALS: readonly { signal: Deno.Signal; status: number }[] =
  Deno.build.os === "windows"
    ? [{ signal: "SIGINT", status: 130 }, { signal: "SIGBREAK", status: 149 }]
    : [{ signal: "SIGINT", status: 130 }, { signal: "SIGTERM", status: 143 }];
