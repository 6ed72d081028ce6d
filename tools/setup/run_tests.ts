/**
 * `deno task test`: provisions what the tests need (see `provision.ts`), then
 * runs `deno test -A` with the task's arguments. Without arguments it then
 * runs the engine's tests once more on each backend (`IGAN_BACKEND=cpu` and
 * `webgpu`), and its op tests on WebGPU with the kernels meant for real GPUs
 * (`IGAN_KERNELS=gpu`; llvmpipe runs them too, so they are checked on
 * machines without one). Without a need that cannot be installed it prints one `error:`
 * line naming it and exits 1.
 *
 * @module
 */

import { provision, ProvisionError } from "./provision.ts";

const BACKEND_TESTS = ["training/engine/", "tests/learning.test.ts", "training/train.test.ts"];

/** The engine's tests run again under each of these settings, after the whole suite. */
const ENGINE_RUNS: { what: string; env: Record<string, string>; tests: string[] }[] = [
  { what: "the cpu backend", env: { IGAN_BACKEND: "cpu" }, tests: BACKEND_TESTS },
  { what: "the webgpu backend", env: { IGAN_BACKEND: "webgpu" }, tests: BACKEND_TESTS },
  {
    what: "WebGPU with the gpu kernels",
    env: { IGAN_BACKEND: "webgpu", IGAN_KERNELS: "gpu" },
    tests: ["training/engine/", "tests/learning.test.ts"],
  },
];

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
  const test = async (args: string[], extra: Record<string, string> = {}) =>
    (await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", ...args],
      env: { ...env, ...extra },
      stdin: "inherit",
    }).spawn().status).code;
  let code = await test(Deno.args);
  // Everything ran on the backend this machine picks; the engine's tests (ops against float64,
  // learning, exact resume) also run on each backend and kernel family explicitly, so all are
  // always checked.
  if (code === 0 && Deno.args.length === 0) {
    for (const run of ENGINE_RUNS) {
      console.error(`==> the engine's tests on ${run.what}`);
      code = await test(run.tests, run.env);
      if (code !== 0) break;
    }
  }
  Deno.exit(code);
}
