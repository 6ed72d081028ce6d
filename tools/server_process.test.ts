import assert from "node:assert/strict";
import { ServerStartError, startServerProcess } from "./server_process.ts";

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
        (error) => {
          assert.ok(error instanceof ServerStartError);
          assert.equal(
            error.message,
            "the server did not start: it was not ready within 0.5 s; it printed:\n  stuck",
          );
          return true;
        },
      );
      assert.ok(performance.now() - started < 10_000);
    },
  );

  await t.step("reports a server that exits before it is ready", async () => {
    await assert.rejects(
      startServerProcess(["eval", "console.error('error: no model'); Deno.exit(1)"], /up on (\d+)/),
      (error) => {
        assert.ok(error instanceof ServerStartError);
        assert.equal(
          error.message,
          "the server did not start: it exited with status 1; it printed:\n  error: no model",
        );
        return true;
      },
    );
  });
});
