import { equal } from "node:assert/strict";
import { fitsHalfPrecision, median, nearestRankIndex, percentile, roundTo } from "./numbers.ts";

Deno.test("roundTo rounds to decimal places", () => {
  equal(roundTo(1.23456, 2), 1.23);
  equal(roundTo(1.235001, 2), 1.24);
  equal(roundTo(-0.00049, 3), -0);
  equal(roundTo(1234.5, 0), 1235);
});

Deno.test("median: the middle value, or the mean of the two middle ones", () => {
  equal(median([3, 1, 2]), 2);
  equal(median([4, 1, 3, 2]), 2.5);
  equal(median([7]), 7);
  equal(Number.isNaN(median([])), true);
});

Deno.test("percentile: nearest rank over the sorted values", () => {
  const values = Array.from({ length: 100 }, (_, k) => 100 - k); // 100..1
  equal(percentile(values, 50), 50);
  equal(percentile(values, 99), 99);
  equal(percentile(values, 99.5), 100);
  equal(percentile([3, 1, 2], 50), 2);
  equal(percentile(values, 100), 100);
  equal(percentile(values, 0), 1);
  equal(Number.isNaN(percentile([], 50)), true);
  equal(nearestRankIndex(100, 90), 89);
  equal(nearestRankIndex(100, 7), 6);
  equal(nearestRankIndex(1000, 99.9), 998);
  equal(nearestRankIndex(10, 0), 0);
});

Deno.test("fitsHalfPrecision: up to f16's largest finite value, either sign", () => {
  equal(fitsHalfPrecision(new Float32Array([0, -65504, 65504, 1e-9])), true);
  equal(fitsHalfPrecision(new Float32Array([1, 65505])), false);
  equal(fitsHalfPrecision(new Float32Array([-1e6])), false);
});
