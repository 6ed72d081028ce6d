import { deepEqual } from "node:assert/strict";
import { RefusalLog } from "./refusal_log.ts";

Deno.test("refusals: the first of a burst at once, then one line a period, by kind", async () => {
  const lines: string[] = [];
  const log = new RefusalLog((line) => lines.push(line), 50);
  log.record("unavailable");
  deepEqual(lines, ["refused 1 request (unavailable 1)"]);
  log.record("unavailable");
  log.record("too-much-work");
  log.record("unavailable");
  deepEqual(lines.length, 1, "the rest of the burst waits for the period's line");
  await new Promise((resolve) => setTimeout(resolve, 80));
  deepEqual(lines.slice(1), [
    "refused 3 requests in the last 0.05 s (unavailable 2, too-much-work 1)",
  ]);
  log.record("timeout");
  log.close();
  deepEqual(lines.slice(2), ["refused 1 request in the last 0.05 s or less (timeout 1)"]);
});
