/**
 * `deno task test`: provisions what the tests need (see `provision.ts`), then
 * runs `deno test -A` with the task's arguments. Without a need that cannot
 * be installed it prints one `error:` line naming it and exits 1.
 *
 * @module
 */

import { provision, ProvisionError } from "./provision.ts";

/** wgpu and Mesa want a private runtime folder; one is made when the session has none. */
function runtimeDir(): string {
  const existing = Deno.env.get("XDG_RUNTIME_DIR");
  if (existing) return existing;
  const dir = `/tmp/xdg-runtime-${Deno.uid() ?? "user"}`;
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  Deno.chmodSync(dir, 0o700);
  return dir;
}

if (import.meta.main) {
  try {
    await provision((line) => console.error(`==> ${line}`));
  } catch (error) {
    if (!(error instanceof ProvisionError)) throw error;
    console.error(`error: ${error.message}`);
    Deno.exit(1);
  }
  const env: Record<string, string> = Deno.build.os === "windows"
    ? {}
    : { XDG_RUNTIME_DIR: runtimeDir() };
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", ...Deno.args],
    env,
    stdin: "inherit",
  }).spawn().status;
  Deno.exit(code);
}
