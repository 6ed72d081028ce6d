import { deepEqual, equal, ok } from "node:assert/strict";
import { HttpProblem, PROBLEM_LIMITS, problemResponse } from "./problem.ts";

Deno.test("problemResponse: RFC 9457 fields, the errors listed, and no more of the request than the limits", async () => {
  const small = await problemResponse(
    new HttpProblem("invalid-request", "query.size: too big", {
      errors: [{ field: "query.size", message: "too big" }],
    }),
    "/v1/images/1.png",
  ).json();
  deepEqual(small, {
    type: "/docs#problem-invalid-request",
    title: "The request is invalid",
    status: 400,
    detail: "query.size: too big",
    instance: "/v1/images/1.png",
    errors: [{ field: "query.size", message: "too big" }],
  });

  // A client's 200,000-character name and 3,000 unknown parameters: a small answer all the same.
  const name = "x".repeat(200_000);
  const errors = Array.from({ length: 3000 }, (_, k) => ({
    field: `query.p${k}`,
    message: `no group is named ${name}`,
  }));
  const response = problemResponse(
    new HttpProblem("invalid-request", `no group is named ${name}`, { errors }),
    `/v1/swap/1/2.png`,
  );
  const text = await response.text();
  ok(text.length < 10_000, `${text.length} characters`);
  const body = JSON.parse(text);
  equal(body.errors.length, PROBLEM_LIMITS.errors);
  equal(body.errors[0].field, "query.p0");
  equal(body.errors[0].message.length, PROBLEM_LIMITS.text);
  ok(body.errors[0].message.endsWith("…"));
  ok(body.detail.endsWith(`… (${3000 - PROBLEM_LIMITS.errors} more errors not listed)`));
});
