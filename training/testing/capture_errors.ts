/**
 * A command line's `main` run in the test's process, with what it prints on
 * standard error captured.
 *
 * @module
 */

/** Runs `main(args)`; returns its status and its error lines joined. */
export async function runCapturingErrors(
  main: (args: string[]) => Promise<number>,
  args: string[],
): Promise<{ status: number; errors: string }> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...parts: unknown[]) => void lines.push(parts.join(" "));
  try {
    return { status: await main(args), errors: lines.join("\n") };
  } finally {
    console.error = original;
  }
}
