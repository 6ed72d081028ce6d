import { equal, ok, rejects, throws } from "node:assert/strict";
import { adapterPreference, isSoftwareAdapter, openDevice } from "./device.ts";
import { EngineError, WebGpuUnavailableError } from "../errors.ts";
import { withEnv } from "../testing/harness.ts";

Deno.test("the device reports its adapter and the kernel variant it chose", async () => {
  const open = await openDevice();
  ok(open.report.description.length > 0);
  // Its own choice, unless IGAN_KERNELS forces one (the test command's run of the gpu kernels).
  const forced = Deno.env.get("IGAN_KERNELS");
  const chosen = open.report.software ? "cpu" : "gpu";
  equal(open.report.variant, forced === "cpu" || forced === "gpu" ? forced : chosen);
  ok(open.report.maxStorageBufferBytes >= 128 * 2 ** 20);
  open.device.destroy();
});

Deno.test("IGAN_KERNELS forces a kernel variant; a bad value is an actionable error", async () => {
  await withEnv({ IGAN_KERNELS: "gpu" }, async () => {
    const open = await openDevice();
    equal(open.report.variant, "gpu");
    open.device.destroy();
  });
  await withEnv({ IGAN_KERNELS: "fast" }, async () => {
    await rejects(
      openDevice(),
      (e) =>
        e instanceof EngineError &&
        e.message === "IGAN_KERNELS=fast is not valid; use one of: auto, cpu, gpu.",
    );
  });
});

Deno.test("IGAN_ADAPTER=hardware on a machine with only a software adapter names what to install", async () => {
  const open = await openDevice();
  const software = open.report.software;
  open.device.destroy();
  if (!software) return; // a GPU machine: hardware is available, nothing to check here
  await withEnv({ IGAN_ADAPTER: "hardware" }, async () => {
    await rejects(
      openDevice(),
      (e) => e instanceof WebGpuUnavailableError && /Vulkan driver/.test(e.message),
    );
  });
});

Deno.test("software adapters are recognised by flag or name", () => {
  const info = (description: string, isFallbackAdapter = false) =>
    ({
      description,
      device: "",
      vendor: "",
      architecture: "",
      isFallbackAdapter,
    }) as unknown as GPUAdapterInfo;
  ok(isSoftwareAdapter(info("llvmpipe (LLVM 15.0.6, 256 bits)")));
  ok(isSoftwareAdapter(info("SwiftShader Device")));
  ok(isSoftwareAdapter(info("something", true)));
  ok(!isSoftwareAdapter(info("NVIDIA H100 80GB HBM3")));
});

const chosenBackend = Deno.env.get("DENO_WEBGPU_BACKEND");
Deno.test({
  name: "on Linux only Vulkan is loaded: no libEGL, whose teardown at exit aborted ~1 run in 10",
  ignore: Deno.build.os !== "linux" || (chosenBackend !== undefined && chosenBackend !== "vulkan"),
  async fn() {
    const open = await openDevice();
    open.device.destroy();
    equal(Deno.env.get("DENO_WEBGPU_BACKEND"), "vulkan");
    const maps = await Deno.readTextFile("/proc/self/maps");
    ok(!/libEGL/.test(maps), "libEGL is mapped into the process");
  },
});

Deno.test("adapterPreference: the option, else IGAN_ADAPTER, else auto", async () => {
  await withEnv({ IGAN_ADAPTER: undefined }, () => {
    equal(adapterPreference(), "auto");
    equal(adapterPreference({ adapter: "hardware" }), "hardware");
  });
  await withEnv({ IGAN_ADAPTER: "software" }, () => {
    equal(adapterPreference(), "software");
    equal(adapterPreference({ adapter: "auto" }), "auto");
  });
  await withEnv({ IGAN_ADAPTER: "gpu" }, () => {
    throws(() => adapterPreference(), EngineError);
  });
});
