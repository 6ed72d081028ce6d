/**
 * The server's entry points as users run them: `deno task start`'s
 * `deno run -A main.ts --listen` and `deno serve -A main.ts`, on the embedded
 * default bundle; and a broken IGAN_MODEL, which stops start-up with one line.
 */

import { equal, match, ok } from "node:assert/strict";
import { ROOT, START, startServerProcess } from "../tools/server_process.ts";

async function checkServes(port: number): Promise<void> {
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  equal(health.status, 200);
  await health.body?.cancel();
  const image = await fetch(`http://127.0.0.1:${port}/v1/images/1.png`);
  equal(image.status, 200);
  equal(image.headers.get("content-type"), "image/png");
  ok((await image.arrayBuffer()).byteLength > 100);
}

Deno.test("deno task start (deno run main.ts --listen) serves the embedded model on PORT", async () => {
  const server = await startServerProcess(START.args, START.ready, {
    env: { PORT: "0", HOST: "127.0.0.1" },
  });
  try {
    match(server.startup, /model: .*step-\d+/);
    await checkServes(server.port);
  } finally {
    await server.stop();
  }
});

Deno.test("deno serve main.ts serves the default export", async () => {
  const server = await startServerProcess(
    ["serve", "-A", "--port", "0", "--host", "127.0.0.1", "main.ts"],
    /Listening on http:\/\/[\d.]+:(\d+)\//,
  );
  try {
    await checkServes(server.port);
  } finally {
    await server.stop();
  }
});

Deno.test("a broken IGAN_MODEL or setting stops start-up with one error line and status 1", async () => {
  for (
    const [env, pattern] of [
      [
        { IGAN_MODEL: "/nonexistent/bundle" },
        /^error: \/nonexistent\/bundle\/manifest\.json: the file is missing from the bundle; a bundle is a folder written by deno task export\.$/,
      ],
      [
        { IGAN_MAX_BATCH: "lots" },
        /^error: IGAN_MAX_BATCH must be an integer in 1\.\.1024, got "lots"\.$/,
      ],
    ] as const
  ) {
    const result = await new Deno.Command(Deno.execPath(), {
      args: START.args,
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      stdout: "null",
      stderr: "piped",
    }).output();
    equal(result.code, 1);
    const lines = new TextDecoder().decode(result.stderr).trim().split("\n");
    equal(lines.length, 1, lines.join("\n"));
    match(lines[0], pattern);
  }
});
