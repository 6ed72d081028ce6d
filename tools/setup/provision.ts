/**
 * What the tests need from the machine, and installing it where that can be
 * done: a WebGPU adapter (Mesa's software Vulkan driver, llvmpipe, when no GPU
 * driver gives one), OpenBLAS for the engine's CPU backend, Debian's
 * python3-onnx for the onnx.checker test, and Debian's chromium for the
 * studio's test in a real browser.
 *
 * The decision is a pure function of what was found ({@link planProvision});
 * {@link provision} probes the machine, runs the plan's installs and probes
 * again. Where a need cannot be installed (not root, no apt-get, or the
 * install failed) the result is one line naming what to install.
 *
 * @module
 */

import { commandSucceeds } from "../command.ts";
import { UserError } from "../../core/user_error.ts";

/** The browser the studio's test drives: `$IGAN_CHROMIUM`, or Debian's `chromium`. */
export const CHROMIUM = Deno.env.get("IGAN_CHROMIUM") ?? "/usr/bin/chromium";

/** What the probes found on this machine. */
export interface MachineFacts {
  /** Whether Deno's WebGPU (Vulkan backend, as the engine uses) finds an adapter. */
  hasAdapter: boolean;
  /** Whether `/usr/bin/python3 -c "import onnx"` works. */
  hasPythonOnnx: boolean;
  /** Whether Deno's FFI loads `libopenblas.so.0` (the CPU backend's GEMMs). */
  hasOpenBlas: boolean;
  /** Whether {@link CHROMIUM} runs (`--version`). */
  hasChromium: boolean;
  /** Whether packages can be installed here: root with apt-get. */
  canInstall: boolean;
  /** `VERSION_CODENAME` of /etc/os-release (`bookworm` on Debian 12), or "" when unknown. */
  codename: string;
}

/** One package install: apt-get arguments after `install -y -qq`. */
export interface AptInstall {
  /** What it provides, for progress lines. */
  purpose: string;
  /** Tried in order until one succeeds. */
  attempts: string[][];
  /** Whether apt's lists must include bookworm-backports. */
  backports: boolean;
}

/** The plan: installs to run, or the line to stop with. */
export type ProvisionPlan =
  | { kind: "ready" }
  | { kind: "install"; installs: AptInstall[] }
  | { kind: "missing"; message: string };

const MESA_HINT = "install Mesa's Vulkan driver as root (apt-get install mesa-vulkan-drivers; " +
  "on Debian 12, apt-get install -t bookworm-backports mesa-vulkan-drivers) or a GPU's Vulkan driver";
const BLAS_HINT = "install OpenBLAS as root (apt-get install libopenblas0-pthread), which the " +
  "engine's CPU backend calls";
const CHROMIUM_HINT = "install Debian's chromium as root (apt-get install chromium), or name a " +
  "Chromium executable in IGAN_CHROMIUM, for the studio's test in a real browser";
const ONNX_HINT = "install Debian's python3-onnx as root (apt-get install python3-onnx), " +
  "which the onnx.checker test of exported models runs";

/**
 * One need of the tests: whether it was found, its install, the line when it
 * cannot be installed, and the line when it is still missing after the install.
 */
interface Need {
  found: boolean;
  install: AptInstall;
  missing: string;
  stillMissing: string;
}

/** The tests' needs, in install order, from the probes' findings. */
function needs(facts: MachineFacts): Need[] {
  // On Debian 12, bookworm-backports' Mesa 25 runs the engine's kernels about twice as fast
  // as bookworm's Mesa 22; the plain package is the fallback.
  const bookworm = facts.codename === "bookworm";
  const plain = (purpose: string, pkg: string): AptInstall => ({
    purpose,
    attempts: [[pkg]],
    backports: false,
  });
  return [
    {
      found: facts.hasAdapter,
      install: {
        purpose: "Mesa's Vulkan driver (llvmpipe), for a WebGPU adapter without a GPU",
        attempts: bookworm
          ? [["-t", "bookworm-backports", "mesa-vulkan-drivers"], ["mesa-vulkan-drivers"]]
          : [["mesa-vulkan-drivers"]],
        backports: bookworm,
      },
      missing: `no WebGPU adapter was found: ${MESA_HINT}`,
      stillMissing:
        "Mesa's Vulkan driver is installed, but Deno's WebGPU (Vulkan) still finds no " +
        "adapter: if VK_ICD_FILENAMES or VK_DRIVER_FILES is set, make it name an installed " +
        "driver (/usr/share/vulkan/icd.d/lvp_icd.json is llvmpipe's)",
    },
    {
      found: facts.hasOpenBlas,
      install: plain("OpenBLAS, for the engine's CPU backend", "libopenblas0-pthread"),
      missing: `OpenBLAS (libopenblas.so.0) does not load: ${BLAS_HINT}`,
      stillMissing: "libopenblas0-pthread is installed, but Deno cannot load libopenblas.so.0: " +
        "repair it (apt-get install --reinstall libopenblas0-pthread)",
    },
    {
      found: facts.hasPythonOnnx,
      install: plain("python3-onnx, for the onnx.checker test", "python3-onnx"),
      missing: `/usr/bin/python3 has no onnx module: ${ONNX_HINT}`,
      stillMissing: "python3-onnx is installed, but /usr/bin/python3 cannot import onnx: repair " +
        "it (apt-get install --reinstall python3-onnx)",
    },
    {
      found: facts.hasChromium,
      install: plain("Chromium, for the studio's test in a real browser", "chromium"),
      missing: `${CHROMIUM} does not run: ${CHROMIUM_HINT}`,
      stillMissing: `chromium is installed, but ${CHROMIUM} --version fails: ${CHROMIUM_HINT}`,
    },
  ];
}

/** Decides what to install, or which line to stop with, from the probes' findings. */
export function planProvision(facts: MachineFacts): ProvisionPlan {
  const absent = needs(facts).filter((need) => !need.found);
  if (absent.length === 0) return { kind: "ready" };
  if (!facts.canInstall) {
    return { kind: "missing", message: absent.map((need) => need.missing).join("; and ") };
  }
  return { kind: "install", installs: absent.map((need) => need.install) };
}

/** Whether a fresh Deno process finds a WebGPU adapter on the Vulkan backend. */
export function probeWebGpu(): Promise<boolean> {
  // A fresh process: wgpu enumerates adapters once per process, so one that probed before
  // Mesa was installed would never see it. Vulkan only, as the engine does on Linux.
  return commandSucceeds(Deno.execPath(), [
    "eval",
    "const a = await navigator.gpu?.requestAdapter(); Deno.exit(a ? 0 : 1)",
  ], { DENO_WEBGPU_BACKEND: "vulkan" });
}

/** Whether a fresh Deno process loads OpenBLAS through FFI, as the CPU backend does. */
export function probeOpenBlas(): Promise<boolean> {
  return commandSucceeds(Deno.execPath(), ["eval", "Deno.dlopen('libopenblas.so.0', {}).close()"]);
}

/** Whether Debian's Python (`/usr/bin/python3`) imports onnx (python3-onnx), for the onnx.checker test. */
export function probePythonOnnx(): Promise<boolean> {
  return commandSucceeds("/usr/bin/python3", ["-c", "import onnx"]);
}

/** Probes everything {@link planProvision} decides on. */
export async function probeMachine(): Promise<MachineFacts> {
  let codename = "";
  try {
    codename = /^VERSION_CODENAME=(.*)$/m.exec(Deno.readTextFileSync("/etc/os-release"))?.[1]
      ?.replaceAll('"', "") ?? "";
  } catch { /* not Linux, or no os-release */ }
  const root = Deno.build.os === "linux" && Deno.uid() === 0;
  return {
    hasAdapter: await probeWebGpu(),
    hasPythonOnnx: await probePythonOnnx(),
    hasOpenBlas: await probeOpenBlas(),
    hasChromium: await commandSucceeds(CHROMIUM, ["--version"]),
    canInstall: root && await commandSucceeds("apt-get", ["--version"]),
    codename,
  };
}

const APT_ENV = { DEBIAN_FRONTEND: "noninteractive" };

/** Refreshes apt's lists once for all `installs` (with bookworm-backports when one needs it). */
async function aptUpdate(installs: readonly AptInstall[]): Promise<boolean> {
  if (installs.some((install) => install.backports)) {
    await Deno.writeTextFile(
      "/etc/apt/sources.list.d/bookworm-backports.list",
      "deb http://deb.debian.org/debian bookworm-backports main\n",
    );
  }
  return await commandSucceeds("apt-get", ["update", "-qq"], APT_ENV);
}

/** Tries the install's attempts in order; true when one succeeds. */
async function aptInstall(install: AptInstall, log: (line: string) => void): Promise<boolean> {
  log(`installing ${install.purpose}`);
  for (const attempt of install.attempts) {
    if (await commandSucceeds("apt-get", ["install", "-y", "-qq", ...attempt], APT_ENV)) {
      return true;
    }
  }
  return false;
}

/** Thrown when a need of the tests is missing and could not be installed. */
export class ProvisionError extends UserError {
  override name = "ProvisionError";
}

/**
 * Makes the machine ready for the tests: probes, installs what is missing
 * where it can, and probes again. Throws {@link ProvisionError} with one line
 * naming what to install when something is still missing.
 */
export async function provision(log: (line: string) => void): Promise<void> {
  const plan = planProvision(await probeMachine());
  if (plan.kind === "ready") return;
  if (plan.kind === "missing") throw new ProvisionError(plan.message);
  const updated = await aptUpdate(plan.installs);
  for (const install of plan.installs) {
    if (!updated || !await aptInstall(install, log)) {
      throw new ProvisionError(
        `apt-get could not install ${install.purpose} (tried: apt-get install ${
          install.attempts.map((a) => a.join(" ")).join(" | ")
        }); install it by hand`,
      );
    }
  }
  const broken = needs(await probeMachine()).find((need) => !need.found);
  if (broken) throw new ProvisionError(broken.stillMissing);
}
