import { equal, match, notEqual } from "node:assert/strict";
import { etagMatches, immutableEtag } from "./etag.ts";

Deno.test("immutable ETags: strong, independent of the query's order, specific to model and URL; If-None-Match", () => {
  const url = (s: string) => new URL(`http://localhost${s}`);
  const etag = immutableEtag("model-a", url("/v1/images/1.png?size=64&truncation=0.5"));
  match(etag, /^"[0-9a-f]{32}"$/);
  equal(immutableEtag("model-a", url("/v1/images/1.png?truncation=0.5&size=64")), etag);
  notEqual(immutableEtag("model-b", url("/v1/images/1.png?size=64&truncation=0.5")), etag);
  notEqual(immutableEtag("model-a", url("/v1/images/2.png?size=64&truncation=0.5")), etag);
  equal(etagMatches(`"other", ${etag}`, etag), true);
  equal(etagMatches(`W/${etag}`, etag), true, "compared weakly");
  equal(etagMatches("*", etag), false, "* needs the response to exist");
  equal(etagMatches("*", etag, true), true);
  equal(etagMatches(`"other"`, etag), false);
  equal(etagMatches(undefined, etag), false);
});
