import { deepEqual, equal } from "node:assert/strict";
import { Hono } from "hono";
import { InFlight } from "./in_flight.ts";
import { HttpProblem, problemResponse } from "./problem.ts";

/** An app whose one route answers when `release` is called. */
function appWith(inFlight: InFlight) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let entered!: () => void;
  const started = new Promise<void>((resolve) => entered = resolve);
  const app = new Hono();
  app.onError((error, c) => problemResponse(error as HttpProblem, c.req.path));
  app.use("*", inFlight.middleware);
  app.get("/slow", async (c) => {
    entered();
    await released;
    return c.text("done");
  });
  return { app, started, release };
}

Deno.test("a stop waits for the requests in flight and refuses new ones with 503 stopping", async () => {
  const inFlight = new InFlight();
  const { app, started, release } = appWith(inFlight);
  const slow = app.request("/slow");
  await started;
  equal(inFlight.count, 1);
  let stopped = false;
  const stop = inFlight.stop().then(() => stopped = true);
  const refused = await app.request("/slow");
  equal(refused.status, 503);
  equal(refused.headers.get("connection"), "close");
  equal(refused.headers.get("retry-after"), "1");
  equal((await refused.json()).type, "/docs#problem-stopping");
  await new Promise((resolve) => setTimeout(resolve, 10));
  equal(stopped, false, "the stop waits for the request in flight");
  release();
  equal(await (await slow).text(), "done");
  await stop;
  deepEqual([stopped, inFlight.count, inFlight.stopping], [true, 0, true]);
});

Deno.test("a stop with nothing in flight resolves at once", async () => {
  const inFlight = new InFlight();
  await inFlight.stop();
  equal(inFlight.stopping, true);
});
