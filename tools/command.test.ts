import { equal } from "node:assert/strict";
import { commandSucceeds } from "./command.ts";

Deno.test("commandSucceeds: a program's exit status, and false for one that is not installed", async () => {
  const deno = Deno.execPath();
  equal(await commandSucceeds(deno, ["eval", "Deno.exit(0)"]), true);
  equal(await commandSucceeds(deno, ["eval", "Deno.exit(3)"]), false);
  equal(
    await commandSucceeds(deno, ["eval", "Deno.exit(Deno.env.get('X') === 'y' ? 0 : 1)"], {
      X: "y",
    }),
    true,
  );
  equal(await commandSucceeds("igan-no-such-program", ["--version"]), false);
});
