import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  calibrateThreshold,
  IdentityListError,
  parseIdentityList,
  verificationPairs,
} from "./verification.ts";
import { mulberry32 } from "../core/host_random.ts";

Deno.test("parseIdentityList reads CelebA's format and names bad lines", () => {
  const ids = parseIdentityList("000001.jpg 2880\n000002.jpg 2937\n\n", "ids.txt");
  deepEqual([...ids], [["000001.jpg", "2880"], ["000002.jpg", "2937"]]);
  throws(
    () => parseIdentityList("000001.jpg\n", "ids.txt"),
    (e: Error) => e instanceof IdentityListError && /ids\.txt:1: expected/.test(e.message),
  );
  throws(() => parseIdentityList("\n", "ids.txt"), IdentityListError);
});

Deno.test("verificationPairs: same-person pairs are of one person, different ones of two", () => {
  const files = ["a", "b", "c", "d", "e", "x"];
  const ids = new Map([["a", "1"], ["b", "1"], ["c", "1"], ["d", "2"], ["e", "3"]]);
  const pairs = verificationPairs(files, ids, 10, mulberry32(1));
  equal(pairs.same.length, 3, "a-b, a-c, b-c");
  ok(pairs.same.every(([i, j]) => ids.get(files[i]) === ids.get(files[j])));
  equal(pairs.different.length, 10);
  ok(pairs.different.every(([i, j]) => ids.get(files[i]) !== ids.get(files[j])));
  ok(pairs.different.flat().every((i) => files[i] !== "x"), "unlisted files are never used");
});

Deno.test("calibrateThreshold separates the distances best", () => {
  const c = calibrateThreshold([0.2, 0.3, 0.35, 0.7], [0.5, 0.8, 0.9, 1.0]);
  ok(c.threshold > 0.35 && c.threshold < 0.5, `threshold ${c.threshold}`);
  equal(c.accuracy, (3 / 4 + 1) / 2);
  equal(calibrateThreshold([0.1], [0.9]).accuracy, 1);
  throws(() => calibrateThreshold([], [0.5]), IdentityListError);
});
