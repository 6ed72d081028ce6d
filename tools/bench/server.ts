/**
 * `deno task bench:server`: drives real servers (`deno task start`'s
 * command, in child processes) with wrk at concurrency 1, 8 and 32 for three
 * requests: generation, one kernel map and a swap; against one server with
 * one render worker (`IGAN_WORKERS=1`) and one with one per core. Prints
 * requests/s, mean, p50 and p99 latency; the raw onnxruntime time of one
 * request's inference, measured in this process without a server; the
 * servers' resident memory before and after the load; the throughput of all
 * workers over one at concurrency 32 (target: at least 1.8x on 2 cores); and
 * as its last line one JSON object.
 *
 * The overhead figure is what HTTP, validation, the worker hand-off, image
 * work and PNG encoding add at concurrency 1 over bare inference: (mean
 * latency - mean inference) / mean inference (target: at most 25%), the
 * inference of the same answers, from their `Server-Timing` header (the
 * networks' runs in the worker). The same over the raw time measured in
 * this process is printed too; it compares two processes, often on two CPUs
 * of different speed at the moment.
 *
 * The measurements run in `--rounds` rounds, and within a round each
 * comparison's two sides run back to back (the raw time right before the
 * served one; one worker, then all, at each load): a cloud CPU that slows
 * down for seconds at a time then moves both sides alike. Each figure is
 * the median over rounds of the round's own ratio.
 *
 * On Linux the servers' threads' CPU time (`thread_cpu.ts`) is read around
 * each load at the top concurrency, which splits the throughput ratio into
 * how many cores each server kept busy and what a request cost in CPU: the
 * one-worker server's serving thread already uses part of a second core.
 *
 * `--overload` instead runs bursts a user once sent: 200 concurrent
 * `POST /v1/swap` at 512 px with every extra, and 200 concurrent
 * `POST /v1/generate` of 16 seeds, while `/healthz` is polled every 50 ms;
 * it prints the share of 503s, latency percentiles, the slowest answer
 * against `IGAN_TIMEOUT_MS` + 0.5 s, and the health checks' latency.
 *
 * `--soak <seconds>` instead holds a server with its default workers at
 * concurrency 32 for that long, the three requests in turn, and prints the
 * requests served, errors, latency, the server's resident memory after
 * warm-up, halfway and at the end (growth over the second half is what a
 * leak shows), and the health checks' latency.
 *
 * Usage: deno task bench:server [--seconds N] [--rounds N] [--model <bundle>] [--quick]
 *        [--overload | --soak <seconds>]
 *
 * @module
 */

import { resolve } from "node:path";
import { BundleError, DEFAULT_MODEL, readBundle } from "../../model/bundle.ts";
import { latentsForSeeds } from "../../model/latents.ts";
import { GeneratorSessions } from "../../model/sessions.ts";
import { commandStatus, commandSucceeds } from "../command.ts";
import {
  type ServerProcess,
  ServerStartError,
  START,
  startServerProcess,
} from "../server_process.ts";
import {
  exitWithUsageError,
  onStopSignal,
  positiveScriptFlag,
  scriptFlags,
} from "../../training/command_line.ts";
import { type LoadCpu, loadCpu, threadCpu, throughputFactors } from "./thread_cpu.ts";
import { median, percentile, roundTo } from "../../core/numbers.ts";

/** The servers this benchmark has started and not yet stopped. */
const running = new Set<ServerProcess>();

/** Stops the servers still running, which would outlive this process. */
function stopRunning(): void {
  for (const server of running) server.child.kill("SIGTERM");
}

// A stop signal to this process alone (a supervisor's SIGTERM) must not leave its servers running.
onStopSignal((status) => {
  stopRunning();
  console.error(`\nstopped; stopped the ${running.size} servers it had started.`);
  Deno.exit(status);
});

/**
 * {@link startServerProcess}, its server stopped when this process is; a server that does not
 * start ends the benchmark with one `error:` line (and what the server printed).
 */
async function startTracked(
  ...args: Parameters<typeof startServerProcess>
): Promise<ServerProcess> {
  let server;
  try {
    server = await startServerProcess(...args);
  } catch (error) {
    if (!(error instanceof ServerStartError)) throw error;
    stopRunning();
    console.error(`error: ${error.message}`);
    Deno.exit(1);
  }
  running.add(server);
  return {
    ...server,
    stop: () => {
      running.delete(server);
      return server.stop();
    },
  };
}

const USAGE = `usage: deno task bench:server [--seconds N] [--rounds N] [--model <bundle>] [--quick]
       [--overload | --soak <seconds>]

  --seconds <n>     seconds of each load [5]
  --rounds <n>      interleaved rounds of one and all workers; figures are their medians [3]
  --model <bundle>  the bundle to serve [model/default]
  --quick           concurrency 1 and 8 only (no 32)
  --overload        the overload bursts instead (200 swaps at 512 px, 200 generates of 16)
  --soak <seconds>  a soak instead: the three requests in turn at concurrency 32 for that long,
                    against the default workers, with the server's memory every 10 s`;
/** Soak concurrency: the top of the throughput loads. */
const SOAK_CONNECTIONS = 32;
/** Seconds between readings of the server's memory during a soak. */
const SOAK_SAMPLE_SECONDS = 10;

const values = scriptFlags(Deno.args, {
  seconds: { type: "string", default: "5" },
  rounds: { type: "string", default: "3" },
  model: { type: "string" },
  quick: { type: "boolean" },
  overload: { type: "boolean" },
  soak: { type: "string" },
}, USAGE);
if (values.overload && values.soak !== undefined) {
  exitWithUsageError("--overload and --soak are two benchmarks; run them one at a time.");
}
const soakSeconds = values.soak === undefined ? null : positiveScriptFlag("soak", values.soak);
const seconds = positiveScriptFlag("seconds", values.seconds);
const rounds = positiveScriptFlag("rounds", values.rounds);
const concurrencies = values.quick ? [1, 8] : [1, 8, 32];

// wrk --version exits 1: that it runs at all is what counts.
if (await commandStatus("wrk", ["--version"]) === null) {
  console.error("error: this benchmark drives the server with wrk: apt-get install wrk");
  Deno.exit(1);
}

/** A request pattern, whose seeds vary so that no two requests are alike. */
interface Scenario {
  name: string;
  /** A Lua expression of the counter `n`: the path of the n-th request. */
  path: string;
  /** Raw inference of one request: head rows and tail rows. */
  head: number;
  tail: number;
}

const SCENARIOS: Scenario[] = [
  { name: "generate", path: '"/v1/images/" .. n .. ".png"', head: 1, tail: 1 },
  {
    name: "kernel-map",
    path: '"/v1/images/" .. n .. "/kernels/" .. (n % 8) .. ".png?style=contour"',
    head: 1,
    tail: 1,
  },
  {
    name: "swap",
    path: '"/v1/swap/" .. n .. "/" .. (n + 1000) .. ".png?concepts=0,1,2"',
    head: 2,
    tail: 1,
  },
];

/** A wrk Lua script whose requests take the scenarios' paths in turn. */
function requestLua(scenarios: Scenario[]): string {
  const branches = scenarios.map((s, k) => {
    const keyword = k === 0 ? "if" : "elseif";
    return `  ${keyword} n % ${scenarios.length} == ${k} then return wrk.format("GET", ${s.path})`;
  });
  return `n = 0\nrequest = function()\n  n = n + 1\n${branches.join("\n")}\n  end\nend\n`;
}

/** Median milliseconds of onnxruntime work for one request of `scenario`, in this process. */
async function rawInferenceMs(sessions: GeneratorSessions, scenario: Scenario): Promise<number> {
  const { latent } = sessions.manifest;
  const z = latentsForSeeds(Array.from({ length: scenario.head }, (_, k) => k + 1), latent);
  const once = async () => {
    const maps = await sessions.head(z, scenario.head);
    await sessions.tail(
      maps.subarray(0, (maps.length / scenario.head) * scenario.tail),
      scenario.tail,
    );
  };
  for (let k = 0; k < 5; k++) await once();
  const times: number[] = [];
  const end = performance.now() + 1500;
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
  /** Mean of the answers' `Server-Timing` inference (the networks' runs), where asked for. */
  inferenceMs?: number;
  /** What the load cost the server's threads, where measured (Linux). */
  cpu?: LoadCpu;
}

/**
 * Lua that sums the `inference` duration of each answer's `Server-Timing`
 * header and prints the mean when wrk is done (one thread, so its globals).
 */
const TIMING_LUA = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
inference_ms, timed = 0, 0
function response(status, headers, body)
  local value = headers["server-timing"] or headers["Server-Timing"]
  local ms = value and string.match(value, "inference;dur=([%d.]+)")
  if ms then inference_ms = inference_ms + tonumber(ms); timed = timed + 1 end
end
function done(summary, latency, requests)
  local sum, count = 0, 0
  for _, thread in ipairs(threads) do
    sum = sum + thread:get("inference_ms"); count = count + thread:get("timed")
  end
  if count > 0 then io.write(string.format("inference mean ms: %.4f\\n", sum / count)) end
end
`;

/** How {@link runWrk} loads a server. */
interface WrkLoad {
  connections: number;
  /** Seconds of load [--seconds]. */
  seconds?: number;
  /** Also read each answer's `Server-Timing` (Lua per answer: kept off the throughput runs). */
  timed?: boolean;
  /** Also measure what the load cost this server process's threads. */
  pid?: number;
}

/** Runs wrk against `scenarios` (taken in turn) as `load` says. */
async function runWrk(port: number, scenarios: Scenario[], load: WrkLoad): Promise<LoadResult> {
  const { connections, timed = false, pid } = load;
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(script, requestLua(scenarios) + (timed ? TIMING_LUA : ""));
  try {
    const command = [
      ...wrkPrefix,
      "wrk",
      "-t1",
      `-c${connections}`,
      `-d${load.seconds ?? seconds}s`,
      "--latency",
      "--timeout",
      "30s",
      "-s",
      script,
      `http://127.0.0.1:${port}`,
    ];
    const cpuBefore = pid === undefined ? null : await threadCpu(pid);
    const started = performance.now();
    const result = await new Deno.Command(command[0], {
      args: command.slice(1),
    }).output();
    const wallSeconds = (performance.now() - started) / 1000;
    const cpuAfter = cpuBefore && pid !== undefined ? await threadCpu(pid) : null;
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
    const inference = /inference mean ms: ([\d.]+)/.exec(text);
    if (timed && !inference) throw new Error(`no Server-Timing in the answers:\n${text}`);
    return {
      ...(inference ? { inferenceMs: Number(inference[1]) } : {}),
      ...(cpuBefore && cpuAfter
        ? { cpu: loadCpu(cpuBefore, cpuAfter, wallSeconds, Number(requests[1])) }
        : {}),
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
    return kb ? roundTo(Number(kb[1]) / 1024, 1) : null;
  } catch {
    return null;
  }
}

const modelFolder = values.model ?? DEFAULT_MODEL;
let bundle;
try {
  bundle = await readBundle(modelFolder);
} catch (error) {
  if (!(error instanceof BundleError)) throw error;
  console.error(`error: ${error.message}`);
  Deno.exit(1);
}

const baseEnv: Record<string, string> = { PORT: "0", HOST: "127.0.0.1", IGAN_MAX_QUEUE: "100000" };
if (values.model) baseEnv.IGAN_MODEL = resolve(values.model);
// With two CPUs or more, wrk runs on the first: unpinned, p50 latencies of identical runs varied
// by half on 2 cores. The server stays free to use every CPU (pinned to one, its garbage
// collector's threads competed with it and tripled p99 at concurrency 1).
const cpus = navigator.hardwareConcurrency;
const pinned = cpus >= 2 && await commandSucceeds("taskset", ["--version"]);
const wrkPrefix = pinned ? ["taskset", "-c", "0"] : [];
console.error(pinned ? "wrk pinned to CPU 0" : "wrk not pinned (no taskset or one CPU)");

if (values.overload) {
  await overload();
  Deno.exit(0);
}
if (soakSeconds !== null) {
  await soak(soakSeconds);
  Deno.exit(0);
}

/** A server under test: its render workers, process and memory. */
interface ServerUnderTest {
  workers: number;
  server: Awaited<ReturnType<typeof startServerProcess>>;
  memory: { startMiB: number | null; endMiB: number | null };
}

/** Starts a server with `workers` render workers and warms it up on every scenario. */
async function startServer(workers: number): Promise<ServerUnderTest> {
  const server = await startTracked(START.args, START.ready, {
    env: { ...baseEnv, IGAN_WORKERS: String(workers) },
  });
  // Warm-up: the first requests compile the code paths and size the wasm heaps.
  for (const scenario of SCENARIOS) await runWrk(server.port, [scenario], { connections: 4 });
  return { workers, server, memory: { startMiB: await rssMiB(server.child.pid), endMiB: null } };
}

/** One round's measurements: raw inference per scenario, and loads per server, scenario and c. */
interface Round {
  raw: Record<string, number>;
  results: Record<string, Record<string, Record<string, LoadResult>>>;
}

const workerCounts = [...new Set([1, Math.max(1, cpus)])];
const sessions = await GeneratorSessions.open(bundle);
const servers: ServerUnderTest[] = [];
const measured: Round[] = [];
try {
  for (const workers of workerCounts) servers.push(await startServer(workers));
  for (let round = 1; round <= rounds; round++) {
    const raw: Record<string, number> = {};
    const results: Round["results"] = {};
    for (const { workers } of servers) results[`workers${workers}`] = {};
    for (const scenario of SCENARIOS) {
      raw[scenario.name] = await rawInferenceMs(sessions, scenario);
      for (const c of concurrencies) {
        for (const { workers, server } of servers) {
          const atTop = c === concurrencies.at(-1);
          const load = await runWrk(server.port, [scenario], {
            connections: c,
            timed: c === 1,
            pid: atTop ? server.child.pid : undefined,
          });
          (results[`workers${workers}`][scenario.name] ??= {})[`c${c}`] = load;
          console.error(
            `round ${round} workers ${workers} ${scenario.name.padEnd(10)} c=${
              String(c).padEnd(2)
            } ${load.requestsPerSecond.toFixed(1)} req/s, mean ${load.meanMs.toFixed(2)} ms, ` +
              `p50 ${load.p50Ms.toFixed(2)} ms, p99 ${load.p99Ms.toFixed(2)} ms` +
              (load.errors ? `, ${load.errors} errors` : "") +
              (load.cpu ? `; ${cpuText(load.cpu)}` : ""),
          );
        }
      }
    }
    measured.push({ raw, results });
  }
  for (const s of servers) s.memory.endMiB = await rssMiB(s.server.child.pid);
} finally {
  await Promise.all(servers.map((s) => s.server.stop()));
  await sessions.release();
}

const most = `workers${workerCounts.at(-1)}`;
const top = `c${concurrencies.at(-1)}`;
/** (latency - inference) / inference, in percent. */
const overPct = (meanMs: number, inferenceMs: number) =>
  roundTo(((meanMs - inferenceMs) / inferenceMs) * 100, 1);
/**
 * Each round's figures: overhead at c = 1 (all workers) over the same answers' own inference
 * (their `Server-Timing`) and over the raw inference measured in this process, and throughput
 * of all workers over one.
 */
const perRound = measured.map(({ raw, results }) => ({
  overhead_pct_c1: Object.fromEntries(SCENARIOS.map(({ name }) => {
    const c1 = results[most][name].c1;
    return [name, overPct(c1.meanMs, c1.inferenceMs!)];
  })),
  overhead_over_raw_pct_c1: Object.fromEntries(SCENARIOS.map(({ name }) => [
    name,
    overPct(results[most][name].c1.meanMs, raw[name]),
  ])),
  throughput_all_over_one_worker: Object.fromEntries(SCENARIOS.map(({ name }) => [
    name,
    roundTo(
      results[most][name][top].requestsPerSecond / results.workers1[name][top].requestsPerSecond,
      2,
    ),
  ])),
  ...cpuFactorFigures(results),
}));
/**
 * The same ratio from the servers' CPU, as its two factors per scenario: cores busy, and the
 * cost a request (where /proc was read).
 */
function cpuFactorFigures(
  results: Round["results"],
): Partial<
  Record<
    "cores_busy_all_over_one_worker" | "cost_per_request_one_over_all_workers",
    Record<string, number>
  >
> {
  if (!results.workers1[SCENARIOS[0].name][top].cpu) return {};
  const factors = SCENARIOS.map(({ name }) =>
    [
      name,
      throughputFactors(results.workers1[name][top].cpu!, results[most][name][top].cpu!),
    ] as const
  );
  return {
    cores_busy_all_over_one_worker: Object.fromEntries(
      factors.map(([name, f]) => [name, roundTo(f.cores, 2)]),
    ),
    cost_per_request_one_over_all_workers: Object.fromEntries(
      factors.map(([name, f]) => [name, roundTo(f.costPerRequest, 2)]),
    ),
  };
}
/** A load's CPU as a log's words. */
function cpuText(cpu: LoadCpu): string {
  const ms = cpu.msPerRequest;
  return `${cpu.coresBusy.toFixed(2)} cores busy, CPU ${ms.all.toFixed(2)} ms a request ` +
    `(serving thread ${ms.serving.toFixed(2)}, workers ${ms.workers.toFixed(2)}, other ${
      ms.other.toFixed(2)
    })`;
}
/** The median over rounds of `pick`'s figure. */
const overRounds = (pick: (round: Round) => number) => median(measured.map(pick));
const raw = Object.fromEntries(
  SCENARIOS.map(({ name }) => [name, roundTo(overRounds((r) => r.raw[name]), 2)]),
);
const figure = (key: keyof typeof perRound[number]) =>
  Object.fromEntries(
    SCENARIOS.map(({ name }) => [name, roundTo(median(perRound.map((r) => r[key]![name])), 2)]),
  );
const overheadPct = figure("overhead_pct_c1");
const overheadOverRawPct = figure("overhead_over_raw_pct_c1");
const scaling = figure("throughput_all_over_one_worker");
const cpuMeasured = perRound.every((r) => r.cores_busy_all_over_one_worker);
const coresFactor = cpuMeasured ? figure("cores_busy_all_over_one_worker") : null;
const costFactor = cpuMeasured ? figure("cost_per_request_one_over_all_workers") : null;
/** Median over rounds of each load figure, per server, scenario and concurrency. */
const results = Object.fromEntries(workerCounts.map((workers) => {
  const key = `workers${workers}`;
  return [
    key,
    Object.fromEntries(SCENARIOS.map(({ name }) => [
      name,
      Object.fromEntries(concurrencies.map((c) => {
        const pick = (f: Exclude<keyof LoadResult, "inferenceMs" | "cpu">) =>
          overRounds((r) => r.results[key][name][`c${c}`][f]);
        return [`c${c}`, {
          requestsPerSecond: roundTo(pick("requestsPerSecond"), 2),
          requests: pick("requests"),
          meanMs: roundTo(pick("meanMs"), 2),
          p50Ms: roundTo(pick("p50Ms"), 2),
          p99Ms: roundTo(pick("p99Ms"), 2),
          errors: measured.reduce((sum, r) => sum + r.results[key][name][`c${c}`].errors, 0),
          ...(c === 1
            ? {
              inferenceMs: roundTo(
                overRounds((r) => r.results[key][name].c1.inferenceMs!),
                2,
              ),
            }
            : {}),
          ...(`c${c}` === top && cpuMeasured
            ? { cpu: medianCpu(measured.map((r) => r.results[key][name][top].cpu!)) }
            : {}),
        }];
      })),
    ])),
  ];
}));

/** Medians of loads' CPU figures, rounded. */
function medianCpu(loads: LoadCpu[]): LoadCpu {
  const ms = (k: keyof LoadCpu["msPerRequest"]) =>
    roundTo(median(loads.map((l) => l.msPerRequest[k])), 2);
  return {
    coresBusy: roundTo(median(loads.map((l) => l.coresBusy)), 2),
    msPerRequest: {
      all: ms("all"),
      serving: ms("serving"),
      workers: ms("workers"),
      other: ms("other"),
    },
  };
}

console.log(
  `\nmedians of ${rounds} rounds\n` +
    "request     workers  raw ort ms   c   req/s  mean ms   p50 ms   p99 ms  overhead",
);
for (const scenario of SCENARIOS) {
  for (const workers of workerCounts) {
    for (const c of concurrencies) {
      const r = results[`workers${workers}`][scenario.name][`c${c}`];
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
  `throughput at ${top} of ${workerCounts.at(-1)} workers over 1 (median of the rounds' ratios): ` +
    SCENARIOS.map((s) => `${s.name} ${scaling[s.name]}x`).join(", "),
);
if (coresFactor && costFactor) {
  console.log(
    `the same ratio from the servers' CPU (cores busy over one worker's x one worker's CPU a ` +
      `request over theirs): ` +
      SCENARIOS.map((s) => `${s.name} ${coresFactor[s.name]} x ${costFactor[s.name]}`).join(", "),
  );
  for (const scenario of SCENARIOS) {
    for (const workers of workerCounts) {
      const cpu = results[`workers${workers}`][scenario.name][top].cpu!;
      console.log(`  ${scenario.name} at ${top}, ${workers} workers: ${cpuText(cpu)}`);
    }
  }
}
for (const [k, r] of perRound.entries()) {
  console.log(
    `round ${k + 1}: overhead ${JSON.stringify(r.overhead_pct_c1)} (over raw ${
      JSON.stringify(r.overhead_over_raw_pct_c1)
    }), throughput ${JSON.stringify(r.throughput_all_over_one_worker)}`,
  );
}
for (const { workers, memory } of servers) {
  console.log(
    `server memory (${workers} workers): ${memory.startMiB} MiB after warm-up, ` +
      `${memory.endMiB} MiB after the load`,
  );
}
console.log(JSON.stringify({
  model: `${bundle.manifest.model.name} ${bundle.manifest.model.version}`,
  seconds_per_run: seconds,
  rounds,
  cpus,
  raw_inference_ms: raw,
  results,
  overhead_pct_c1: overheadPct,
  overhead_over_raw_pct_c1: overheadOverRawPct,
  throughput_all_over_one_worker: scaling,
  ...(coresFactor
    ? {
      cores_busy_all_over_one_worker: coresFactor,
      cost_per_request_one_over_all_workers: costFactor,
    }
    : {}),
  per_round: perRound,
  wrk_pinned: pinned,
  server_rss_mib: Object.fromEntries(servers.map((s) => [`workers${s.workers}`, s.memory])),
}));

/** The health checks' count and latency figures (ms) of a poller's latencies. */
function healthFigures(times: number[]) {
  return {
    checks: times.length,
    p50: roundTo(percentile(times, 50), 1),
    p99: roundTo(percentile(times, 99), 1),
    max: roundTo(Math.max(...times), 1),
  };
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
  const server = await startTracked(START.args, START.ready, {
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
        share_503: roundTo(refused.length / answers.length, 3),
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
        healthz_ms: healthFigures(health),
      };
      report[burst.name] = result;
      console.log(`${burst.name}: ${JSON.stringify(result)}`);
    }
  } finally {
    await server.stop();
  }
  console.log(JSON.stringify({ overload: report, cpus }));
}

/**
 * A soak against a server with its default workers: the three scenarios in
 * turn at {@link SOAK_CONNECTIONS} for `durationSeconds`, its resident memory
 * read every {@link SOAK_SAMPLE_SECONDS} and `/healthz` polled throughout.
 * Memory that still grows over the second half is what a soak is for.
 */
async function soak(durationSeconds: number): Promise<void> {
  const server = await startTracked(START.args, START.ready, { env: baseEnv });
  const pid = server.child.pid;
  try {
    await runWrk(server.port, SCENARIOS, { connections: 4 });
    const memory: { seconds: number; rssMiB: number | null }[] = [
      { seconds: 0, rssMiB: await rssMiB(pid) },
    ];
    const started = performance.now();
    const sampler = setInterval(async () => {
      const seconds = Math.round((performance.now() - started) / 1000);
      const rss = await rssMiB(pid);
      memory.push({ seconds, rssMiB: rss });
      console.error(`${seconds} s: server resident ${rss} MiB`);
    }, SOAK_SAMPLE_SECONDS * 1000);
    const poller = startHealthPoller(`http://127.0.0.1:${server.port}/healthz`);
    let load;
    try {
      load = await runWrk(server.port, SCENARIOS, {
        connections: SOAK_CONNECTIONS,
        seconds: durationSeconds,
      });
    } finally {
      clearInterval(sampler);
    }
    const health = await poller.stop();
    memory.push({
      seconds: Math.round((performance.now() - started) / 1000),
      rssMiB: await rssMiB(pid),
    });
    const readings = memory.flatMap((m) => m.rssMiB === null ? [] : [m.rssMiB]);
    const halfway = memory.findLast((m) => m.seconds <= durationSeconds / 2)?.rssMiB ?? null;
    const end = memory.at(-1)!.rssMiB;
    const result = {
      seconds: durationSeconds,
      connections: SOAK_CONNECTIONS,
      requests: load.requests,
      requests_per_second: load.requestsPerSecond,
      errors: load.errors,
      latency_ms: { mean: load.meanMs, p50: load.p50Ms, p99: load.p99Ms },
      rss_mib: {
        after_warm_up: memory[0].rssMiB,
        halfway,
        end,
        max: readings.length ? Math.max(...readings) : null,
        growth_over_second_half: halfway !== null && end !== null
          ? roundTo(end - halfway, 1)
          : null,
      },
      healthz_ms: healthFigures(health),
    };
    console.log(
      `soak: ${load.requests} requests in ${durationSeconds} s (${load.requestsPerSecond} /s), ` +
        `${load.errors} errors or non-2xx; mean ${load.meanMs} ms, p99 ${load.p99Ms} ms; ` +
        `server resident ${memory[0].rssMiB} MiB after warm-up, ${halfway} halfway, ${end} at ` +
        `the end; /healthz p99 ${result.healthz_ms.p99} ms`,
    );
    console.log(JSON.stringify({ soak: result, cpus }));
  } finally {
    await server.stop();
  }
}
