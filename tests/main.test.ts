/**
 * The server's entry points as users run them: `deno task start`'s
 * `deno run -A main.ts --listen` and `deno serve -A main.ts`, on the embedded
 * default bundle; and a broken IGAN_MODEL, which stops start-up with one line.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { ChildOutput } from "../core/child_output.ts";
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

Deno.test("the start task runs what these tests start, on the server's own lockfile", async () => {
  const { tasks } = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  equal(tasks.start, `deno ${START.args.join(" ")}`);
  // server.lock holds only the server's packages, so a first start fetches no training,
  // face-measurement or browser packages (about 160 MB where deno.lock's all are about 300).
  const lock = JSON.parse(await Deno.readTextFile(`${ROOT}/server.lock`));
  const packages = Object.keys(lock.specifiers).map((s) => s.replace(/^npm:(@?[^@]+)@.*$/, "$1"));
  deepEqual(packages.sort(), ["fast-png", "fflate", "hono", "jpeg-js", "onnxruntime-web", "zod"]);
});

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
    [
      "serve",
      "-A",
      "--frozen",
      "--lock=server.lock",
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "main.ts",
    ],
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
        /^error: \/nonexistent\/bundle: there is no such folder\.$/,
      ],
      [
        { IGAN_MODEL: "core" },
        /^error: \/.*\/core\/manifest\.json: the file is missing from the bundle; a bundle is a folder written by deno task export\.$/,
      ],
      [
        { IGAN_MAX_SIZE: "32" },
        /^error: IGAN_MAX_SIZE \(32\) is under the model's resolution \(64\), its pictures' default side; set it to at least 64\.$/,
      ],
      [
        { IGAN_MAX_BATCH: "lots" },
        /^error: IGAN_MAX_BATCH must be an integer in 3\.\.1024, got "lots"\.$/,
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

Deno.test("without -A, a missing permission is one error line whose flags make it serve", async () => {
  /** Runs the server with `flags`; its error line when it stops, null once it serves. */
  const tryFlags = async (flags: string[]): Promise<string | null> => {
    const args = ["run", "--no-prompt", ...flags, "main.ts", "--listen"];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      env: { NO_COLOR: "1", PORT: "0", HOST: "127.0.0.1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const output = new ChildOutput(child.stderr);
    const startup = await output.until(/listening on http:\/\/[\d.]+:(\d+)\//);
    const port = /listening on http:\/\/[\d.]+:(\d+)\//.exec(startup)?.[1];
    if (!port) {
      equal((await child.status).code, 1);
      const lines = startup.trim().split("\n");
      equal(lines.length, 1, lines.join("\n"));
      return lines[0];
    }
    try {
      await checkServes(Number(port));
      const page = await fetch(`http://127.0.0.1:${port}/`);
      equal(page.status, 200, "the studio's files are readable");
      await page.body?.cancel();
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
    return null;
  };
  const flags: string[] = [];
  const errors: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const error = await tryFlags(flags);
    if (error === null) break;
    errors.push(error);
    const advice =
      /^error: the server lacks permissions; run it with (.*) \(or -A, as deno task start does\)\.$/
        .exec(error);
    ok(advice, error);
    flags.push(...advice[1].split(" "));
  }
  equal(errors.length, 2, errors.join("\n"));
  match(errors[0], /--allow-env=PORT,.*IGAN_MODEL,HOST,/);
  match(
    errors[1],
    /--allow-read=\S*\/model,\S*\/core,\S*\/studio,\S*onnxruntime-web\S* --allow-net=127\.0\.0\.1 /,
  );
});

Deno.test("a port in use stops start-up with one error line and status 1", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const result = await new Deno.Command(Deno.execPath(), {
      args: START.args,
      cwd: ROOT,
      env: { NO_COLOR: "1", HOST: "127.0.0.1", PORT: String(taken.addr.port) },
      stdout: "null",
      stderr: "piped",
    }).output();
    equal(result.code, 1);
    const log = new TextDecoder().decode(result.stderr).trim();
    match(log, /\nerror: port \d+ is in use on 127\.0\.0\.1; set PORT to a free one \(0: any\)\.$/);
    equal(log.match(/^error:/gm)?.length, 1);
    ok(!/\n\s+at /.test(log), log);
  } finally {
    taken.close();
  }
});

Deno.test("a stop signal answers the requests in flight, then exits with the signal's status", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: START.args,
    cwd: ROOT,
    env: { NO_COLOR: "1", PORT: "0", HOST: "127.0.0.1", IGAN_WORKERS: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const output = new ChildOutput(child.stderr);
  const port = Number(START.ready.exec(await output.until(START.ready))?.[1]);
  const base = `http://127.0.0.1:${port}`;
  // Sixteen pictures at 512 px take the worker about a second.
  const seeds = Array.from({ length: 16 }, (_, k) => k);
  const slow = fetch(`${base}/v1/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ seeds, size: 512 }),
  });
  // Signalled once the worker holds the job, so that it is in flight (at most 10 s of polls).
  let jobs = 0;
  for (let poll = 0; jobs === 0 && poll < 1000; poll++) {
    jobs = (await (await fetch(`${base}/readyz`)).json()).load.jobs;
    if (jobs === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  equal(jobs > 0, true, "the request reached a worker");
  child.kill("SIGTERM");
  const answer = await slow;
  equal(answer.status, 200);
  equal((await answer.json()).images.length, 16);
  equal((await child.status).code, 143);
  match(
    await output.rest(),
    /\nstopping: answering the 1 request in flight \(within 10000 ms\)\n/,
  );
});
