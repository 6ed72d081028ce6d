import assert from "node:assert/strict";
import { ChildOutput } from "../../core/child_output.ts";
import { loadCpu, parseThreadStat, threadCpu, throughputFactors } from "./thread_cpu.ts";

Deno.test("parseThreadStat: the name, even with spaces and parentheses, and user + system time", () => {
  const rest = "S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 100 0 0";
  assert.deepEqual(parseThreadStat(`4242 (worker-1) ${rest}`), { name: "worker-1", seconds: 3 });
  assert.deepEqual(parseThreadStat(`4243 (a (b) c) ${rest}`), { name: "a (b) c", seconds: 3 });
  assert.throws(() => parseThreadStat("not a stat line"), RangeError);
  assert.throws(() => parseThreadStat("1 (x) S 1 2"), RangeError);
});

/**
 * A child whose worker does a fixed amount of work (about 0.3 s of CPU here: a count, not a
 * duration, so that a busy machine stretches its time, not its CPU time) while its main thread
 * does a tenth of it (the runtime's start alone can round to 0 s in /proc's 10 ms ticks), then
 * waits to be measured.
 */
const SPINNING_CHILD = `
const spin = "let x = 0; for (let i = 0; i < 5e7; i++) x = (x * 31 + i) | 0; postMessage(x);";
const worker = new Worker("data:text/javascript," + encodeURIComponent(spin), { type: "module" });
let y = 0;
for (let i = 0; i < 5e6; i++) y = (y * 31 + i) | 0;
await new Promise((resolve) => worker.onmessage = resolve);
console.log("spun", y);
setTimeout(() => {}, 60_000);
`;

Deno.test("threadCpu: a child's main thread as the serving one, its worker's thread apart", async (t) => {
  if (Deno.build.os !== "linux") {
    await t.step({ name: "needs Linux's /proc", ignore: true, fn: () => {} });
    return;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", SPINNING_CHILD],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    await new ChildOutput(child.stdout).until(/spun/);
    const cpu = await threadCpu(child.pid);
    assert.ok(cpu);
    // The worker's work counts as the workers', the main thread's as the serving thread's.
    assert.ok(cpu.workers >= 0.1, `worker ${cpu.workers} s`);
    assert.ok(cpu.serving > 0 && cpu.serving < cpu.workers, `main ${cpu.serving} s`);
  } finally {
    child.kill();
    await child.status;
  }
  assert.equal(await threadCpu(2 ** 22 + 1), null);
});

Deno.test("loadCpu and throughputFactors: cores busy, cost a request, and their product", () => {
  const one = loadCpu(
    { serving: 1, workers: 10, other: 0 },
    { serving: 1.8, workers: 20, other: 0.3 },
    10,
    1000,
  );
  assert.ok(Math.abs(one.coresBusy - 1.11) < 1e-9);
  assert.ok(Math.abs(one.msPerRequest.all - 11.1) < 1e-9);
  assert.ok(Math.abs(one.msPerRequest.workers - 10) < 1e-9);
  const two = loadCpu(
    { serving: 0, workers: 0, other: 0 },
    { serving: 1.2, workers: 18.5, other: 0.3 },
    10,
    1600,
  );
  const f = throughputFactors(one, two);
  assert.ok(Math.abs(f.cores - 2 / 1.11) < 1e-9);
  assert.ok(Math.abs(f.costPerRequest - 11.1 / 12.5) < 1e-9);
  // The product is the throughput ratio itself: 160 requests/s over 100.
  assert.ok(Math.abs(f.cores * f.costPerRequest - 1.6) < 1e-9);
});
