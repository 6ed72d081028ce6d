/**
 * `deno task bench:server`: drives a real server (`deno task start`'s
 * command, in a child process) with wrk at concurrency 1, 8 and 32 for three
 * requests: generation, one kernel map and a swap. Prints requests/s, mean,
 * p50 and p99 latency; the raw onnxruntime time of one request's inference,
 * measured in this process without a server, and inside the server during
 * the load (its queue's run time per request); the server's resident memory
 * before and after the load; and as its last line one JSON object.
 *
 * The overhead figure is what HTTP, validation, image work and PNG encoding
 * add at concurrency 1: (mean latency - the server's inference time per
 * request) / that inference time (target: at most 25%). Both come from the
 * same requests, so the machine's noise hits both.
 *
 * Usage: deno task bench:server [--seconds N] [--model <bundle>] [--quick]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { readBundle } from "../../model/bundle.ts";
import { latentForSeed } from "../../model/latents.ts";
import { concatArrays } from "../../core/concat.ts";
import { GeneratorSessions } from "../../model/sessions.ts";
import { DEFAULT_MODEL } from "../../routes/config.ts";
import { START, startServerProcess } from "../server_process.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "10" },
    model: { type: "string" },
    quick: { type: "boolean" },
  },
});
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
  return median(times);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
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

const env: Record<string, string> = { PORT: "0", HOST: "127.0.0.1", IGAN_MAX_QUEUE: "100000" };
if (values.model) env.IGAN_MODEL = join(Deno.cwd(), values.model);
// With two CPUs or more, wrk runs on the first: unpinned, p50 latencies of identical runs varied
// by half on 2 cores. The server stays free to use every CPU (pinned to one, its garbage
// collector's threads competed with it and tripled p99 at concurrency 1).
const cpus = navigator.hardwareConcurrency;
const tasksetFound = await new Deno.Command("taskset", { args: ["--version"], stdout: "null" })
  .output().then((r) => r.success, () => false);
const pinned = tasksetFound && cpus >= 2;
const wrkPrefix = pinned ? ["taskset", "-c", "0"] : [];
const server = await startServerProcess(START.args, START.ready, { env });
console.error(pinned ? "wrk pinned to CPU 0" : "wrk not pinned (no taskset or one CPU)");
/** A load's result with what the server measured during it. */
type ServedResult = LoadResult & { inferenceMs: number; meanBatch: number };
const results: Record<string, Record<string, ServedResult>> = {};

/** The server's queue counters so far (from /readyz): runs, rows run, onnxruntime milliseconds. */
async function serverQueue(
  port: number,
): Promise<{ runs: number; rowsRun: number; runMs: number }> {
  const ready = await (await fetch(`http://127.0.0.1:${port}/readyz`)).json();
  return ready.queue;
}

const memory = { startMiB: await rssMiB(server.child.pid), endMiB: null as number | null };
try {
  // Warm-up: the first requests compile the code paths and size the wasm heap.
  for (const scenario of SCENARIOS) await runWrk(server.port, scenario, 4);
  memory.startMiB = await rssMiB(server.child.pid);
  for (const scenario of SCENARIOS) {
    results[scenario.name] = {};
    for (const c of concurrencies) {
      const before = await serverQueue(server.port);
      const load = await runWrk(server.port, scenario, c);
      const after = await serverQueue(server.port);
      const inferenceMs = (after.runMs - before.runMs) / load.requests;
      const result: ServedResult = {
        ...load,
        inferenceMs: Math.round(inferenceMs * 1000) / 1000,
        // Rows per onnxruntime run: above 1 when concurrent requests were micro-batched.
        meanBatch:
          Math.round(((after.rowsRun - before.rowsRun) / (after.runs - before.runs)) * 100) / 100,
      };
      results[scenario.name][`c${c}`] = result;
      console.error(
        `${scenario.name.padEnd(10)} c=${String(c).padEnd(2)} ${
          result.requestsPerSecond.toFixed(1)
        } req/s, ` +
          `mean ${result.meanMs.toFixed(2)} ms, p50 ${result.p50Ms.toFixed(2)} ms, p99 ` +
          `${result.p99Ms.toFixed(2)} ms, inference ${inferenceMs.toFixed(2)} ms/request, ` +
          `${result.meanBatch} rows/run` +
          (result.errors ? `, ${result.errors} errors` : ""),
      );
    }
  }
  memory.endMiB = await rssMiB(server.child.pid);
} finally {
  await server.stop();
}

const overheadPct: Record<string, number> = {};
console.log(
  "\nrequest     raw ort ms   c   req/s  mean ms   p50 ms   p99 ms  server ort ms  rows/run  overhead",
);
for (const scenario of SCENARIOS) {
  const one = results[scenario.name].c1;
  overheadPct[scenario.name] =
    Math.round(((one.meanMs - one.inferenceMs) / one.inferenceMs) * 1000) / 10;
  for (const c of concurrencies) {
    const r = results[scenario.name][`c${c}`];
    console.log(
      [
        scenario.name.padEnd(11),
        raw[scenario.name].toFixed(2).padStart(10),
        String(c).padStart(3),
        r.requestsPerSecond.toFixed(1).padStart(7),
        r.meanMs.toFixed(2).padStart(8),
        r.p50Ms.toFixed(2).padStart(8),
        r.p99Ms.toFixed(2).padStart(8),
        r.inferenceMs.toFixed(2).padStart(14),
        r.meanBatch.toFixed(2).padStart(9),
        c === 1 ? `${overheadPct[scenario.name].toFixed(1)}%`.padStart(9) : "",
      ].join(" "),
    );
  }
}
console.log(
  `server memory: ${memory.startMiB} MiB after warm-up, ${memory.endMiB} MiB after the load`,
);
console.log(JSON.stringify({
  model: `${bundle.manifest.model.name} ${bundle.manifest.model.version}`,
  seconds_per_run: seconds,
  raw_inference_ms: raw,
  results,
  overhead_pct_c1: overheadPct,
  wrk_pinned: pinned,
  server_rss_mib: memory,
}));
