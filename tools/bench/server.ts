/**
 * `deno task bench:server`: drives a real server (`deno task start`'s
 * command, in a child process) with wrk at concurrency 1, 8 and 32 for three
 * requests: generation, one kernel map and a swap; once with one render
 * worker (`IGAN_WORKERS=1`) and once with one per core. Prints requests/s,
 * mean, p50 and p99 latency; the raw onnxruntime time of one request's
 * inference, measured in this process without a server; the server's
 * resident memory before and after the load; the throughput of all workers
 * over one at concurrency 32 (target: at least 1.8x on 2 cores); and as its
 * last line one JSON object.
 *
 * The overhead figure is what HTTP, validation, the worker hand-off, image
 * work and PNG encoding add at concurrency 1 over bare inference: (mean
 * latency - raw inference) / raw inference (target: at most 25%).
 *
 * `--overload` instead runs bursts a user once sent: 200 concurrent
 * `POST /v1/swap` at 512 px with every extra, and 200 concurrent
 * `POST /v1/generate` of 16 seeds, while `/healthz` is polled every 50 ms;
 * it prints the share of 503s, latency percentiles, the slowest answer
 * against `IGAN_TIMEOUT_MS` + 0.5 s, and the health checks' latency.
 *
 * Usage: deno task bench:server [--seconds N] [--model <bundle>] [--quick] [--overload]
 *
 * @module
 */

import { join } from "node:path";
import { readBundle } from "../../model/bundle.ts";
import { latentForSeed } from "../../model/latents.ts";
import { concatArrays } from "../../core/concat.ts";
import { GeneratorSessions } from "../../model/sessions.ts";
import { DEFAULT_MODEL } from "../../routes/config.ts";
import { START, startServerProcess } from "../server_process.ts";
import { scriptFlags } from "../../training/command_line.ts";

const USAGE =
  "usage: deno task bench:server [--seconds N] [--model <bundle>] [--quick] [--overload]";
const values = scriptFlags(Deno.args, {
  seconds: { type: "string", default: "10" },
  model: { type: "string" },
  quick: { type: "boolean" },
  overload: { type: "boolean" },
}, USAGE);
const seconds = Number(values.seconds);
if (!Number.isInteger(seconds) || seconds < 1) {
  console.error(`error: --seconds takes a positive integer, got "${values.seconds}".`);
  Deno.exit(2);
}
const concurrencies = values.quick ? [1, 8] : [1, 8, 32];

const wrkFound = await new Deno.Command("wrk", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then(() => true, () => false);
if (!wrkFound) {
  console.error("error: this benchmark drives the server with wrk: apt-get install wrk");
  Deno.exit(1);
}

/** A request pattern: a wrk Lua script that varies the seed, so that no two requests are alike. */
interface Scenario {
  name: string;
  lua: string;
  /** Raw inference of one request: head rows and tail rows. */
  head: number;
  tail: number;
}

const SCENARIOS: Scenario[] = [
  {
    name: "generate",
    lua:
      'n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format("GET", "/v1/images/" .. n .. ".png")\nend\n',
    head: 1,
    tail: 1,
  },
  {
    name: "kernel-map",
    lua:
      'n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format("GET", "/v1/images/" .. n .. "/kernels/" .. (n % 8) .. ".png?style=contour")\nend\n',
    head: 1,
    tail: 1,
  },
  {
    name: "swap",
    lua:
      'n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format("GET", "/v1/swap/" .. n .. "/" .. (n + 1000) .. ".png?concepts=0,1,2")\nend\n',
    head: 2,
    tail: 1,
  },
];

/** Median milliseconds of onnxruntime work for one request of `scenario`, in this process. */
async function rawInferenceMs(sessions: GeneratorSessions, scenario: Scenario): Promise<number> {
  const { latent } = sessions.manifest;
  const z = concatArrays(
    Float32Array,
    Array.from({ length: scenario.head }, (_, k) => latentForSeed(k + 1, latent)),
  );
  const once = async () => {
    const maps = await sessions.head(z, scenario.head);
    await sessions.tail(
      maps.subarray(0, (maps.length / scenario.head) * scenario.tail),
      scenario.tail,
    );
  };
  for (let k = 0; k < 5; k++) await once();
  const times: number[] = [];
  const end = performance.now() + 3000;
  while (performance.now() < end || times.length < 20) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  return percentile(times, 50);
}

/** Milliseconds of a wrk latency like "12.34ms", "850.00us" or "1.20s". */
function milliseconds(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!match) throw new Error(`unreadable wrk latency "${text}"`);
  return Number(match[1]) * { us: 1e-3, ms: 1, s: 1e3 }[match[2] as "us" | "ms" | "s"];
}

interface LoadResult {
  requestsPerSecond: number;
  requests: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

async function runWrk(port: number, scenario: Scenario, connections: number): Promise<LoadResult> {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(script, scenario.lua);
  try {
    const command = [
      ...wrkPrefix,
      "wrk",
      "-t1",
      `-c${connections}`,
      `-d${seconds}s`,
      "--latency",
      "--timeout",
      "30s",
      "-s",
      script,
      `http://127.0.0.1:${port}`,
    ];
    const result = await new Deno.Command(command[0], {
      args: command.slice(1),
    }).output();
    const text = new TextDecoder().decode(result.stdout);
    if (!result.success) throw new Error(`wrk failed: ${new TextDecoder().decode(result.stderr)}`);
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
    const requests = /(\d+) requests in/.exec(text);
    const mean = /Latency\s+(\S+)/.exec(text);
    const p50 = /\s50%\s+(\S+)/.exec(text), p99 = /\s99%\s+(\S+)/.exec(text);
    if (!rps || !requests || !mean || !p50 || !p99) {
      throw new Error(`unreadable wrk output:\n${text}`);
    }
    const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
      text,
    );
    const errors = Number(non2xx?.[1] ?? 0) +
      (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
    return {
      requestsPerSecond: Number(rps[1]),
      requests: Number(requests[1]),
      meanMs: milliseconds(mean[1]),
      p50Ms: milliseconds(p50[1]),
      p99Ms: milliseconds(p99[1]),
      errors,
    };
  } finally {
    await Deno.remove(script);
  }
}

/** Resident memory of a process in MiB (Linux). */
async function rssMiB(pid: number): Promise<number | null> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb ? Math.round(Number(kb[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

const modelFolder = values.model ?? DEFAULT_MODEL;
const bundle = await readBundle(modelFolder);
const sessions = await GeneratorSessions.open(bundle);
const raw: Record<string, number> = {};
for (const scenario of SCENARIOS) raw[scenario.name] = await rawInferenceMs(sessions, scenario);
await sessions.release();

const baseEnv: Record<string, string> = { PORT: "0", HOST: "127.0.0.1", IGAN_MAX_QUEUE: "100000" };
if (values.model) baseEnv.IGAN_MODEL = join(Deno.cwd(), values.model);
// With two CPUs or more, wrk runs on the first: unpinned, p50 latencies of identical runs varied
// by half on 2 cores. The server stays free to use every CPU (pinned to one, its garbage
// collector's threads competed with it and tripled p99 at concurrency 1).
const cpus = navigator.hardwareConcurrency;
const tasksetFound = await new Deno.Command("taskset", { args: ["--version"], stdout: "null" })
  .output().then((r) => r.success, () => false);
const pinned = tasksetFound && cpus >= 2;
const wrkPrefix = pinned ? ["taskset", "-c", "0"] : [];
console.error(pinned ? "wrk pinned to CPU 0" : "wrk not pinned (no taskset or one CPU)");

if (values.overload) {
  await overload();
  Deno.exit(0);
}

/** Loads at each concurrency for each scenario against a server with `workers` render workers. */
async function loads(workers: number) {
  const server = await startServerProcess(START.args, START.ready, {
    env: { ...baseEnv, IGAN_WORKERS: String(workers) },
  });
  const results: Record<string, Record<string, LoadResult>> = {};
  const memory = { startMiB: await rssMiB(server.child.pid), endMiB: null as number | null };
  try {
    // Warm-up: the first requests compile the code paths and size the wasm heaps.
    for (const scenario of SCENARIOS) await runWrk(server.port, scenario, 4);
    memory.startMiB = await rssMiB(server.child.pid);
    for (const scenario of SCENARIOS) {
      results[scenario.name] = {};
      for (const c of concurrencies) {
        const load = await runWrk(server.port, scenario, c);
        results[scenario.name][`c${c}`] = load;
        console.error(
          `workers ${workers} ${scenario.name.padEnd(10)} c=${String(c).padEnd(2)} ${
            load.requestsPerSecond.toFixed(1)
          } req/s, mean ${load.meanMs.toFixed(2)} ms, p50 ${load.p50Ms.toFixed(2)} ms, p99 ` +
            `${load.p99Ms.toFixed(2)} ms` + (load.errors ? `, ${load.errors} errors` : ""),
        );
      }
    }
    memory.endMiB = await rssMiB(server.child.pid);
  } finally {
    await server.stop();
  }
  return { results, memory };
}

const workerCounts = [...new Set([1, Math.max(1, cpus)])];
const runs: Record<string, Awaited<ReturnType<typeof loads>>> = {};
for (const workers of workerCounts) runs[`workers${workers}`] = await loads(workers);

const most = runs[`workers${workerCounts.at(-1)}`];
const one = runs.workers1;
const top = `c${concurrencies.at(-1)}`;
const overheadPct: Record<string, number> = {};
const scaling: Record<string, number> = {};
console.log(
  "\nrequest     workers  raw ort ms   c   req/s  mean ms   p50 ms   p99 ms  overhead",
);
for (const scenario of SCENARIOS) {
  const c1 = most.results[scenario.name].c1;
  overheadPct[scenario.name] =
    Math.round(((c1.meanMs - raw[scenario.name]) / raw[scenario.name]) * 1000) / 10;
  scaling[scenario.name] = Math.round(
    (most.results[scenario.name][top].requestsPerSecond /
      one.results[scenario.name][top].requestsPerSecond) * 100,
  ) / 100;
  for (const workers of workerCounts) {
    for (const c of concurrencies) {
      const r = runs[`workers${workers}`].results[scenario.name][`c${c}`];
      console.log(
        [
          scenario.name.padEnd(11),
          String(workers).padStart(7),
          raw[scenario.name].toFixed(2).padStart(11),
          String(c).padStart(3),
          r.requestsPerSecond.toFixed(1).padStart(7),
          r.meanMs.toFixed(2).padStart(8),
          r.p50Ms.toFixed(2).padStart(8),
          r.p99Ms.toFixed(2).padStart(8),
          c === 1 && workers === workerCounts.at(-1)
            ? `${overheadPct[scenario.name].toFixed(1)}%`.padStart(9)
            : "",
        ].join(" "),
      );
    }
  }
}
console.log(
  `throughput at ${top} of ${workerCounts.at(-1)} workers over 1: ` +
    SCENARIOS.map((s) => `${s.name} ${scaling[s.name]}x`).join(", "),
);
for (const workers of workerCounts) {
  const { memory } = runs[`workers${workers}`];
  console.log(
    `server memory (${workers} workers): ${memory.startMiB} MiB after warm-up, ` +
      `${memory.endMiB} MiB after the load`,
  );
}
console.log(JSON.stringify({
  model: `${bundle.manifest.model.name} ${bundle.manifest.model.version}`,
  seconds_per_run: seconds,
  cpus,
  raw_inference_ms: raw,
  results: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.results])),
  overhead_pct_c1: overheadPct,
  throughput_all_over_one_worker: scaling,
  wrk_pinned: pinned,
  server_rss_mib: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.memory])),
}));

/** Percentile `p` (0..100) of `values`. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Polls `url` every 50 ms from a child process until `stop`, which returns the latencies. */
function startHealthPoller(url: string): { stop: () => Promise<number[]> } {
  const code = `
    const times = [];
    let polling = true;
    (async () => { for await (const _ of Deno.stdin.readable) {} polling = false; })();
    while (polling) {
      const t0 = performance.now();
      const r = await fetch(${JSON.stringify(url)});
      await r.body?.cancel();
      times.push(performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(JSON.stringify(times));`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return {
    stop: async () => {
      await child.stdin.close();
      const { stdout } = await child.output();
      return JSON.parse(new TextDecoder().decode(stdout)) as number[];
    },
  };
}

/** The bursts of the module notes against a server with its default workers. */
async function overload(): Promise<void> {
  const timeoutMs = 10_000;
  const server = await startServerProcess(START.args, START.ready, {
    env: { ...baseEnv, IGAN_TIMEOUT_MS: String(timeoutMs) },
  });
  const base = `http://127.0.0.1:${server.port}`;
  const bursts = [
    {
      name: "swap-512-all-extras",
      path: "/v1/swap",
      body: (k: number) => ({
        target: k,
        source: k + 1000,
        concepts: ["0", "1"],
        size: 512,
        include: ["difference", "mask", "originals"],
      }),
    },
    {
      name: "generate-16",
      path: "/v1/generate",
      body: (k: number) => ({ seeds: Array.from({ length: 16 }, (_, j) => k * 16 + j), size: 64 }),
    },
  ];
  const report: Record<string, unknown> = {};
  try {
    // Warm-up so that the workers have measured each kind of job.
    for (const burst of bursts) {
      const r = await fetch(base + burst.path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(burst.body(1)),
      });
      await r.body?.cancel();
    }
    for (const burst of bursts) {
      // The health poller is a process of its own: polled from this one, its latencies would
      // include this process's own work on 200 answers.
      const poller = startHealthPoller(`${base}/healthz`);
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 200 }, async (_, k) => {
          const t0 = performance.now();
          try {
            const r = await fetch(base + burst.path, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(burst.body(k + 10)),
              signal: AbortSignal.timeout(60_000),
            });
            const type = r.headers.get("content-type") ?? "";
            await r.arrayBuffer();
            return { status: r.status, ms: performance.now() - t0, problem: /problem/.test(type) };
          } catch {
            return { status: 0, ms: performance.now() - t0, problem: false };
          }
        }),
      );
      const wallMs = performance.now() - started;
      const health = await poller.stop();
      const ms = answers.map((a) => a.ms);
      const statuses: Record<string, number> = {};
      for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
      const refused = answers.filter((a) => a.status === 503);
      const result = {
        requests: answers.length,
        statuses,
        share_503: Math.round((refused.length / answers.length) * 1000) / 1000,
        every_non_2xx_a_problem: answers.every((a) => a.status < 300 || a.problem),
        latency_ms: {
          p50: Math.round(percentile(ms, 50)),
          p90: Math.round(percentile(ms, 90)),
          p99: Math.round(percentile(ms, 99)),
          max: Math.round(Math.max(...ms)),
        },
        limit_ms: timeoutMs + 500,
        within_limit: Math.max(...ms) <= timeoutMs + 500,
        wall_ms: Math.round(wallMs),
        healthz_ms: {
          checks: health.length,
          p50: Math.round(percentile(health, 50) * 10) / 10,
          p99: Math.round(percentile(health, 99) * 10) / 10,
          max: Math.round(Math.max(...health) * 10) / 10,
        },
      };
      report[burst.name] = result;
      console.log(`${burst.name}: ${JSON.stringify(result)}`);
    }
  } finally {
    await server.stop();
  }
  console.log(JSON.stringify({ overload: report, cpus }));
}
