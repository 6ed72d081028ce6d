import { deepEqual, equal, ok } from "node:assert/strict";
import { DEFAULT_SERVER_CONFIG } from "./config.ts";
import { envNeeds, missingNeeds, permissionFlags, serveNeeds } from "./permissions.ts";

const config = { ...DEFAULT_SERVER_CONFIG, hostname: "127.0.0.1", port: 8000 };

Deno.test("serveNeeds: the repository's folders, the bundle's unless inside them, the address", () => {
  const needs = serveNeeds(config, true);
  const reads = needs.filter((n) => n.flag === "--allow-read").map((n) => n.value);
  ok(reads.slice(0, 3).every((path, k) => path.endsWith(["/model", "/core", "/studio"][k])));
  ok(reads[3].includes("onnxruntime-web"), reads[3]);
  equal(reads.length, 4, "the default bundle lies in model/");
  const bundle = serveNeeds({ ...config, model: "/srv/bundles/celeba/" }, false);
  equal(bundle.filter((n) => n.flag === "--allow-read").length, 5);
  ok(bundle.some((n) => n.value === "/srv/bundles/celeba"));
  equal(bundle.some((n) => n.flag === "--allow-net"), false, "not listening: no address");
  deepEqual(needs.at(-1), {
    flag: "--allow-net",
    value: "127.0.0.1:8000",
    descriptor: { name: "net", host: "127.0.0.1:8000" },
  });
});

Deno.test("serveNeeds: an IPv6 address is bracketed, port 0 asks for the host alone", () => {
  equal(serveNeeds({ ...config, hostname: "::1" }, true).at(-1)!.value, "[::1]:8000");
  equal(serveNeeds({ ...config, hostname: "::", port: 0 }, true).at(-1)!.value, "[::]");
  // Deno reads them: the query answers rather than throwing.
  for (const need of serveNeeds({ ...config, hostname: "::1" }, true)) {
    Deno.permissions.querySync(need.descriptor);
  }
});

Deno.test("permissionFlags: one flag per kind; missingNeeds: nothing under -A", () => {
  equal(
    permissionFlags([...envNeeds().slice(0, 2), ...serveNeeds(config, true).slice(-1)]),
    "--allow-env=PORT,IGAN_MAX_BATCH --allow-net=127.0.0.1:8000",
  );
  deepEqual(missingNeeds([...envNeeds(), ...serveNeeds(config, true)]), [], "tests run with -A");
});
