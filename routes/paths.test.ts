import { deepEqual, equal } from "node:assert/strict";
import { honoPath, matchesPath, parsePath, pathParams } from "./paths.ts";

Deno.test("route paths: OpenAPI form to Hono's, request matching, extensions stripped", () => {
  equal(honoPath("/v1/images/{seed}.png"), "/v1/images/:seed{[^/]+\\.png}");
  equal(honoPath("/v1/swap/{target}/{source}.png"), "/v1/swap/:target/:source{[^/]+\\.png}");
  equal(honoPath("/v1/model"), "/v1/model");
  equal(matchesPath("/v1/images/{seed}.png", "/v1/images/42.png"), true);
  equal(matchesPath("/v1/images/{seed}.png", "/v1/images/.png"), false);
  equal(matchesPath("/v1/images/{seed}.png", "/v1/images/42"), false);
  equal(matchesPath("/v1/images/{seed}.png", "/v1/images/42.png/x"), false);
  const segments = parsePath("/v1/swap/{target}/{source}.png");
  const given: Record<string, string> = { target: "7", source: "9.png" };
  deepEqual(pathParams(segments, (name) => given[name]), { target: "7", source: "9" });
});
