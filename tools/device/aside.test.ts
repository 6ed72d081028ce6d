/**
 * `tools/device/aside.sh`: the committed checkpoints and bundle leave the
 * tree the device tool sends and git's index, and come back unchanged; it
 * refuses to lose anything.
 */

import { deepEqual, equal, match } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./aside.sh", import.meta.url));

async function run(cwd: string, command: string, ...args: string[]) {
  const output = await new Deno.Command(command, { cwd, args, stdout: "piped", stderr: "piped" })
    .output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
}

/** A repository under `root/repo` with the script and the two committed paths. */
async function repository(root: string): Promise<string> {
  const repo = join(root, "repo");
  await Deno.mkdir(join(repo, "tools/device"), { recursive: true });
  await Deno.mkdir(join(repo, "checkpoints"));
  await Deno.mkdir(join(repo, "model/default"), { recursive: true });
  await Deno.copyFile(SCRIPT, join(repo, "tools/device/aside.sh"));
  await Deno.writeTextFile(join(repo, "checkpoints/a.safetensors"), "weights");
  await Deno.writeTextFile(join(repo, "model/default/manifest.json"), "{}");
  await Deno.writeTextFile(join(repo, "main.ts"), "");
  for (
    const args of [
      ["init", "-q"],
      ["add", "."],
      ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"],
    ]
  ) {
    equal((await run(repo, "git", ...args)).code, 0);
  }
  return repo;
}

const tracked = async (repo: string) =>
  (await run(repo, "git", "ls-files", "--cached", "--others", "--exclude-standard")).stdout
    .trim().split("\n");

Deno.test("aside.sh out takes the checkpoints and bundle out of the tree and index; back restores them", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-aside-" });
  try {
    const repo = await repository(root);
    const out = await run(repo, "bash", "tools/device/aside.sh", "out");
    equal(out.code, 0, out.stderr);
    deepEqual(await tracked(repo), ["main.ts", "tools/device/aside.sh"]);
    equal(await Deno.readTextFile(join(root, "igan-aside/checkpoints/a.safetensors")), "weights");

    const twice = await run(repo, "bash", "tools/device/aside.sh", "out");
    equal(twice.code, 1);
    match(twice.stderr, /^error: \.\.\/igan-aside exists: put it back first/);

    const back = await run(repo, "bash", "tools/device/aside.sh", "back");
    equal(back.code, 0, back.stderr);
    match(back.stderr, /are back, unchanged/);
    equal((await run(repo, "git", "status", "--porcelain")).stdout, "");
    equal(await Deno.readTextFile(join(repo, "checkpoints/a.safetensors")), "weights");

    const nothing = await run(repo, "bash", "tools/device/aside.sh", "back");
    equal(nothing.code, 1);
    match(nothing.stderr, /^error: nothing is aside/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("aside.sh refuses uncommitted changes, a path made again meanwhile, a commit meanwhile and a bad word", async () => {
  const root = await Deno.makeTempDir({ prefix: "igan-aside-" });
  try {
    const repo = await repository(root);
    await Deno.writeTextFile(join(repo, "checkpoints/a.safetensors"), "changed");
    const changed = await run(repo, "bash", "tools/device/aside.sh", "out");
    equal(changed.code, 1);
    match(changed.stderr, /have changes that are not committed/);
    equal(await Deno.readTextFile(join(repo, "checkpoints/a.safetensors")), "changed");
    await run(repo, "git", "checkout", "--", "checkpoints");

    equal((await run(repo, "bash", "tools/device/aside.sh", "out")).code, 0);
    await Deno.mkdir(join(repo, "checkpoints"));
    await Deno.writeTextFile(join(repo, "checkpoints/new.safetensors"), "new");
    const again = await run(repo, "bash", "tools/device/aside.sh", "back");
    equal(again.code, 1);
    match(again.stderr, /^error: checkpoints exists again/);
    equal(await Deno.readTextFile(join(repo, "checkpoints/new.safetensors")), "new");

    await Deno.remove(join(repo, "checkpoints"), { recursive: true });
    await Deno.writeTextFile(join(repo, "main.ts"), "// changed");
    await run(repo, "git", "add", "main.ts");
    await run(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "y");
    const moved = await run(repo, "bash", "tools/device/aside.sh", "back");
    equal(moved.code, 1);
    match(moved.stderr, /^error: HEAD moved since checkpoints model\/default went aside/);
    equal(await Deno.readTextFile(join(root, "igan-aside/checkpoints/a.safetensors")), "weights");

    const bad = await run(repo, "bash", "tools/device/aside.sh", "sideways");
    equal(bad.code, 2);
    match(bad.stderr, /^error: usage: bash tools\/device\/aside\.sh out\|back/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
