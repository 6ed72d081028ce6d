import assert from "node:assert/strict";
import { startServerProcess } from "./server_process.ts";

Deno.test("startServerProcess", async (t) => {
  await t.step("reads the port from the ready line", async () => {
    const server = await startServerProcess(
      [
        "eval",
        "console.error('booting'); console.error('up on 1234'); setInterval(() => {}, 1000)",
      ],
      /up on (\d+)/,
    );
    try {
      assert.equal(server.port, 1234);
      assert.match(server.startup, /booting\n/);
    } finally {
      await server.stop();
    }
  });

  await t.step(
    "stops a server that is not ready at the deadline, with what it printed",
    async () => {
      const started = performance.now();
      await assert.rejects(
        startServerProcess(
          ["eval", "console.error('stuck'); setInterval(() => {}, 1000)"],
          /up on (\d+)/,
          {
            timeoutMs: 500,
          },
        ),
        /the server did not start:\nstuck/,
      );
      assert.ok(performance.now() - started < 10_000);
    },
  );

  await t.step("reports a server that exits before it is ready", async () => {
    await assert.rejects(
      startServerProcess(["eval", "console.error('error: no model'); Deno.exit(1)"], /up on (\d+)/),
      /the server did not start:\nerror: no model/,
    );
  });
});
