/**
 * CPU time of a server process's threads, from Linux's `/proc`, split into
 * the thread that serves HTTP, the render workers and the rest (V8's
 * garbage-collector and compiler threads, the I/O runtime). `bench:server`
 * reads it around its loads to tell whether two workers kept both cores busy
 * and what each request cost there.
 *
 * @module
 */

/** CPU seconds of a process's threads, by what they do. */
export interface ThreadCpu {
  /** The main thread: HTTP, routing, validation, scheduling. */
  serving: number;
  /** The render workers (Deno names their threads `worker-<n>`). */
  workers: number;
  /** Every other thread. */
  other: number;
}

/**
 * Clock ticks a second of `/proc/<pid>/stat`'s times (`sysconf(_SC_CLK_TCK)`,
 * which Linux fixes at 100 on every architecture Deno runs on).
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** One thread's name and CPU seconds (user + system) from its `stat` line. */
export function parseThreadStat(line: string): { name: string; seconds: number } {
  // The name is in parentheses and may hold spaces and parentheses itself: it ends at the last ")".
  const open = line.indexOf("("), close = line.lastIndexOf(")");
  if (open < 0 || close < open) throw new RangeError(`not a /proc stat line: "${line}"`);
  // After the name: state (field 3) ... utime (14), stime (15).
  const fields = line.slice(close + 2).split(" ");
  const utime = Number(fields[11]), stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new RangeError(`not a /proc stat line: "${line}"`);
  }
  return { name: line.slice(open + 1, close), seconds: (utime + stime) / CLOCK_TICKS_PER_SECOND };
}

/**
 * The CPU seconds so far of process `pid`'s threads, or null where `/proc`
 * cannot be read (not Linux, or the process is gone).
 */
export async function threadCpu(pid: number): Promise<ThreadCpu | null> {
  const total: ThreadCpu = { serving: 0, workers: 0, other: 0 };
  try {
    for await (const entry of Deno.readDir(`/proc/${pid}/task`)) {
      let line: string;
      try {
        line = await Deno.readTextFile(`/proc/${pid}/task/${entry.name}/stat`);
      } catch (error) {
        // A thread that ended between the listing and the read.
        if (error instanceof Deno.errors.NotFound) continue;
        throw error;
      }
      const { name, seconds } = parseThreadStat(line.trim());
      if (Number(entry.name) === pid) total.serving += seconds;
      else if (/^worker-\d+$/.test(name)) total.workers += seconds;
      else total.other += seconds;
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
      return null;
    }
    throw error;
  }
  return total;
}

/** What a load cost the server's CPUs. */
export interface LoadCpu {
  /** CPU seconds over wall seconds: how many cores the server kept busy. */
  coresBusy: number;
  /** CPU milliseconds a request, in all and by kind of thread. */
  msPerRequest: { all: number; serving: number; workers: number; other: number };
}

/** The CPU of `requests` served in `wallSeconds` between two readings. */
export function loadCpu(
  before: ThreadCpu,
  after: ThreadCpu,
  wallSeconds: number,
  requests: number,
): LoadCpu {
  const serving = after.serving - before.serving;
  const workers = after.workers - before.workers;
  const other = after.other - before.other;
  const all = serving + workers + other;
  const ms = (seconds: number) => (seconds * 1000) / requests;
  return {
    coresBusy: all / wallSeconds,
    msPerRequest: { all: ms(all), serving: ms(serving), workers: ms(workers), other: ms(other) },
  };
}

/**
 * Throughput of server B over server A, split into its two factors:
 * throughput is cores busy over CPU time a request, so B / A = (B's cores
 * busy / A's) x (A's CPU a request / B's). The first says whether B used
 * the cores it was given; the second what each request cost more there.
 */
export function throughputFactors(
  a: LoadCpu,
  b: LoadCpu,
): { cores: number; costPerRequest: number } {
  return {
    cores: b.coresBusy / a.coresBusy,
    costPerRequest: a.msPerRequest.all / b.msPerRequest.all,
  };
}
