import assert from "node:assert/strict";
import { ChildOutput } from "./child_output.ts";

/** A child that prints "starting", then "ready" a moment later, then "done" and exits. */
const CHILD = `
const out = (s) => Deno.stdout.writeSync(new TextEncoder().encode(s));
out("starting\\n");
await new Promise((r) => setTimeout(r, 200));
out("ready on 42\\n");
await new Promise((r) => setTimeout(r, 200));
out("done\\n");
`;

function spawn(): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), { args: ["eval", CHILD], stdout: "piped" }).spawn();
}

Deno.test("ChildOutput", async (t) => {
  await t.step("until stops at the first text that matches, rest reads the others", async () => {
    const child = spawn();
    const output = new ChildOutput(child.stdout);
    const upToReady = await output.until(/ready on (\d+)/);
    assert.match(upToReady, /^starting\nready on 42\n$/);
    assert.equal(await output.rest(), "starting\nready on 42\ndone\n");
    assert.equal((await child.status).code, 0);
  });

  await t.step("until returns what there was when the stream ends without a match", async () => {
    const child = spawn();
    const text = await new ChildOutput(child.stdout).until(/never printed/);
    assert.equal(text, "starting\nready on 42\ndone\n");
    await child.status;
  });

  await t.step("drain reads to the end and keeps nothing more", async () => {
    const child = spawn();
    const output = new ChildOutput(child.stdout);
    await output.until(/starting/);
    await output.drain();
    assert.equal(output.text, "starting\n");
    assert.equal((await child.status).code, 0);
  });
});
