import { equal } from "node:assert/strict";
import { acceptedQuality } from "./accept.ts";

Deno.test("acceptedQuality: the most specific matching range's q", () => {
  equal(acceptedQuality(undefined, "image/png"), 1);
  equal(acceptedQuality("", "image/png"), 1);
  equal(acceptedQuality("*/*", "application/json"), 1);
  equal(acceptedQuality("application/json", "image/png"), 0);
  equal(acceptedQuality("application/json", "application/json"), 1);
  equal(acceptedQuality("image/*;q=0.5, */*;q=0.1", "image/png"), 0.5);
  equal(acceptedQuality("image/*;q=0.5, */*;q=0.1", "application/json"), 0.1);
  equal(acceptedQuality("image/png;q=0, */*", "image/png"), 0, "an explicit refusal wins over */*");
  equal(acceptedQuality("Image/PNG", "image/png"), 1);
  equal(acceptedQuality("text/html,application/xhtml+xml,*/*;q=0.8", "image/png"), 0.8);
  equal(acceptedQuality("image/png;q=abc", "image/png"), 0);
});
