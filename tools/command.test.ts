import { equal } from "node:assert/strict";
import { commandStatus, commandSucceeds } from "./command.ts";

Deno.test("commandStatus and commandSucceeds: exit codes, and null for a program not installed", async () => {
  const deno = Deno.execPath();
  equal(await commandStatus(deno, ["eval", "Deno.exit(3)"]), 3);
  equal(await commandSucceeds(deno, ["eval", "Deno.exit(0)"]), true);
  equal(await commandSucceeds(deno, ["eval", "Deno.exit(3)"]), false);
  const env = { X: "y" };
  equal(
    await commandSucceeds(deno, ["eval", "Deno.exit(Deno.env.get('X') === 'y' ? 0 : 1)"], env),
    true,
  );
  equal(await commandStatus("igan-no-such-program", ["--version"]), null);
  equal(await commandSucceeds("igan-no-such-program", ["--version"]), false);
});
