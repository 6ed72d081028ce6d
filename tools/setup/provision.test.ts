import { deepEqual, equal, match } from "node:assert/strict";
import { type MachineFacts, planProvision } from "./provision.ts";

const READY: MachineFacts = {
  hasAdapter: true,
  hasPythonOnnx: true,
  hasOpenBlas: true,
  hasChromium: true,
  canInstall: true,
  codename: "bookworm",
};

Deno.test("planProvision", async (t) => {
  await t.step("nothing to do when the adapter and python3-onnx are there", () => {
    deepEqual(planProvision(READY), { kind: "ready" });
    deepEqual(planProvision({ ...READY, canInstall: false }), { kind: "ready" });
  });

  await t.step("Debian 12 takes Mesa from bookworm-backports, the plain package second", () => {
    const plan = planProvision({ ...READY, hasAdapter: false });
    equal(plan.kind, "install");
    if (plan.kind !== "install") return;
    equal(plan.installs.length, 1);
    deepEqual(plan.installs[0].attempts, [
      ["-t", "bookworm-backports", "mesa-vulkan-drivers"],
      ["mesa-vulkan-drivers"],
    ]);
    equal(plan.installs[0].backports, true);
  });

  await t.step("elsewhere the distribution's Mesa, and python3-onnx when it is missing", () => {
    const plan = planProvision({
      ...READY,
      hasAdapter: false,
      hasPythonOnnx: false,
      codename: "noble",
    });
    equal(plan.kind, "install");
    if (plan.kind !== "install") return;
    deepEqual(plan.installs.map((i) => [i.attempts, i.backports]), [
      [[["mesa-vulkan-drivers"]], false],
      [[["python3-onnx"]], false],
    ]);
  });

  await t.step("OpenBLAS for the CPU backend when it does not load", () => {
    const plan = planProvision({ ...READY, hasOpenBlas: false });
    equal(plan.kind, "install");
    if (plan.kind !== "install") return;
    deepEqual(plan.installs.map((i) => i.attempts), [[["libopenblas0-pthread"]]]);
  });

  await t.step("Chromium for the studio's browser test when it does not run", () => {
    const plan = planProvision({ ...READY, hasChromium: false });
    equal(plan.kind, "install");
    if (plan.kind !== "install") return;
    deepEqual(plan.installs.map((i) => i.attempts), [[["chromium"]]]);
  });

  await t.step("one line naming each package when nothing can be installed", () => {
    const plan = planProvision({
      ...READY,
      hasAdapter: false,
      hasPythonOnnx: false,
      hasOpenBlas: false,
      hasChromium: false,
      canInstall: false,
    });
    equal(plan.kind, "missing");
    if (plan.kind !== "missing") return;
    equal(plan.message.includes("\n"), false);
    match(
      plan.message,
      /no WebGPU adapter.*mesa-vulkan-drivers.*libopenblas0-pthread.*python3-onnx.*chromium/,
    );
  });
});
