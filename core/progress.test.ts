import { deepEqual, equal, match } from "node:assert/strict";
import { formatDuration, Progress, type ProgressSink, stagedProgress } from "./progress.ts";

/** A sink that keeps what is written, as a terminal or not. */
function recording(isTerminal: boolean): ProgressSink & { lines: () => string[] } {
  let text = "";
  return { isTerminal, write: (t) => void (text += t), lines: () => text.split("\n").slice(0, -1) };
}

Deno.test("formatDuration: hours and minutes, minutes and seconds, seconds", () => {
  deepEqual([3723, 75, 9.4].map(formatDuration), ["1h02m", "1m15s", "9s"]);
});

Deno.test("off a terminal: a line at the end, at most one per interval before it, every one asked for", () => {
  const sink = recording(false);
  const quiet = new Progress("steps", 10, { sink, plainEveryMs: 60_000 });
  for (let done = 1; done <= 10; done++) quiet.update(done);
  equal(sink.lines().length, 1, "only the end, within the interval");
  match(sink.lines()[0], /^steps 10\/10 \[#{20}\]/);
  const chatty = new Progress("steps", 3, { sink, plainEveryMs: 0 });
  for (let done = 1; done <= 3; done++) chatty.update(done);
  equal(sink.lines().length, 4, "with no interval, every update");
  const asked = new Progress("steps", 3, { sink, plainEveryMs: 0 });
  asked.update(1, "loss 1", false);
  asked.update(2, "loss 2", true);
  match(sink.lines().at(-1)!, /steps 2\/3 .* loss 2$/);
  equal(sink.lines().length, 5, "an explicit log flag wins");
});

Deno.test("stagedProgress: a line per stage, its rate counted from the stage's first update", () => {
  const sink = recording(false);
  const progress = stagedProgress({ sink, unit: "img" });
  // The first update comes after the first batch of 20 was done: no rate can be told from it.
  progress.update("generating", 20, 20);
  progress.update("describing", 10, 20);
  progress.update("describing", 20, 20);
  progress.finish();
  const lines = sink.lines();
  equal(lines.length, 2);
  match(lines[0], /^generating 20\/20 \[#{20}\] - ETA/);
  match(lines[1], /^describing 20\/20 \[#{20}\] \d+(\.\d+)? (img\/s|s\/img) ETA/);
});
