/**
 * Request validation: path parameters, query and JSON body parsed with a
 * route's zod schemas, and every failure an `invalid-request` (or
 * `unsupported-media-type`) problem whose `errors` name the fields.
 *
 * @module
 */

import type { Context } from "hono";
import type { z } from "zod";
import { type FieldError, HttpProblem, invalidField } from "./problem.ts";
import type { AppEnv } from "./route.ts";

/**
 * Whether a union member's issues say only that the value is not of its
 * shape: another type, keys it does not have, or its keys missing.
 */
function otherShape(member: readonly z.core.$ZodIssue[]): boolean {
  return member.every((issue) =>
    issue.code === "unrecognized_keys" ||
    (issue.code === "invalid_type" &&
      (issue.path.length === 0 || (issue.path.length === 1 && isMissing(issue))))
  );
}

/** Whether an issue is a required key's absence. */
function isMissing(issue: z.core.$ZodIssue): boolean {
  return issue.code === "invalid_type" && /received undefined$/.test(issue.message);
}

/**
 * The issues of a value that matched no member of a union: null when it has
 * no member's shape and the union has a message of its own (naming what it
 * takes), which then stands for them; else those of the member of its shape
 * it came closest to (fewest issues, then the deepest), so that
 * `{"image": ..., "fit": 999}` is told about its fit rather than "invalid
 * input".
 */
function unionIssues(union: z.core.$ZodIssueInvalidUnion): z.core.$ZodIssue[] | null {
  const members = union.errors;
  if (members.every(otherShape) && union.message !== DEFAULT_UNION_MESSAGE) return null;
  const depth = (member: readonly z.core.$ZodIssue[]) =>
    Math.max(...member.map((i) => i.path.length));
  const candidates = members.some((m) => !otherShape(m))
    ? members.filter((m) => !otherShape(m))
    : members;
  return [...candidates].sort((a, b) => a.length - b.length || depth(b) - depth(a))[0] ?? [];
}

/** What zod says of a union without a message of its own. */
const DEFAULT_UNION_MESSAGE = "Invalid input";

/**
 * An issue's message in the API's words: zod's own phrasings of bounds and
 * types ("Too big: expected number to be <=10", "... array to have exactly
 * 128 items") as "must be at most 10", "must have exactly 128 items";
 * messages the schemas give are kept. `field` is where it is (`body.x`...).
 */
function issueMessage(issue: z.core.$ZodIssue, field: string): string {
  const own = !/^(Too big|Too small|Invalid input):/.test(issue.message);
  if (own) return issue.message;
  if (issue.code === "too_big" || issue.code === "too_small") {
    const bound = issue.code === "too_big" ? issue.maximum : issue.minimum;
    const exact = (issue as { exact?: boolean }).exact;
    const word = exact
      ? "exactly"
      : issue.code === "too_big"
      ? issue.inclusive ? "at most" : "under"
      : issue.inclusive
      ? "at least"
      : "over";
    if (issue.origin === "number") return `must be ${word} ${bound}`;
    if (issue.origin === "array") return `must have ${word} ${bound} item${bound === 1 ? "" : "s"}`;
  }
  if (issue.code === "invalid_type") {
    const received = (issue as { received?: unknown }).received;
    if (received === "Infinity" || received === "-Infinity") {
      return "must be a finite number" +
        (field.startsWith("body") ? " (a JSON number this large reads as infinite)" : "");
    }
    if (issue.expected === "int") return "must be an integer";
  }
  return issue.message;
}

/**
 * Whether an issue only repeats a bound that another issue of the same field
 * states more tightly: zod's integers are checked against the safe-integer
 * range as well as the schema's own bounds.
 */
function looserBound(issue: z.core.$ZodIssue, all: readonly z.core.$ZodIssue[]): boolean {
  if ((issue.code !== "too_big" && issue.code !== "too_small") || issue.origin !== "int") {
    return false;
  }
  const samePath = (other: z.core.$ZodIssue) =>
    other.path.length === issue.path.length && other.path.every((p, k) => p === issue.path[k]);
  return all.some((other) => other !== issue && other.code === issue.code && samePath(other));
}

/** The field errors of zod issues at `path` (`path`, `query`, `body` and below). */
function fieldErrors(
  path: readonly PropertyKey[],
  issues: readonly z.core.$ZodIssue[],
): FieldError[] {
  const kept = issues.filter((issue) => !looserBound(issue, issues));
  return kept.flatMap((issue) => {
    const at = [...path, ...issue.path];
    const members = issue.code === "invalid_union" && issue.errors.length > 0
      ? unionIssues(issue)
      : null;
    if (members) return fieldErrors(at, members);
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [undefined];
    return keys.map((key) => {
      const field = [...at, ...(key ? [key] : [])].map(String).join(".");
      return {
        field,
        message: issue.code === "unrecognized_keys"
          ? "is not a known parameter"
          : isMissing(issue)
          ? "is required"
          : issueMessage(issue, field),
      };
    });
  });
}

/** `value` parsed with `schema` (undefined without one); failures name fields under `prefix`. */
export function parseWith<T extends z.ZodType>(
  schema: T | undefined,
  prefix: string,
  value: unknown,
) {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) {
    const errors = fieldErrors([prefix], result.error.issues);
    throw new HttpProblem(
      "invalid-request",
      errors.map((e) => `${e.field}: ${e.message}`).join("; "),
      { errors },
    );
  }
  return result.data;
}

/**
 * The client went away before its request was complete: nothing can be
 * answered, and the app logs one line.
 */
export class ClientGoneError extends Error {
  override name = "ClientGoneError";
}

/** More query parameters than any route takes, refused before they are looked at one by one. */
export const MAX_QUERY_PARAMETERS = 32;

/** The query as one value per name; a name given twice, or an empty name, is an invalid field. */
export function queryObject(c: Context<AppEnv>): Record<string, string> {
  // From the URL itself: Hono's queries() drops parameters with an empty name.
  const params = [...new URL(c.req.url).searchParams];
  if (params.length > MAX_QUERY_PARAMETERS) {
    throw invalidField(
      "query",
      `has ${params.length} parameters; no route takes more than ${MAX_QUERY_PARAMETERS}`,
    );
  }
  // One pass (a name looked up again for each name had made a 65 KB query take 2 s).
  const values = new Map<string, string[]>();
  for (const [key, value] of params) {
    if (key === "") {
      throw invalidField("query", "has a parameter with an empty name (as in ?=64); name it");
    }
    values.set(key, [...values.get(key) ?? [], value]);
  }
  const out: Record<string, string> = {};
  for (const [key, given] of values) {
    if (given.length > 1) throw invalidField(`query.${key}`, `is given ${given.length} times`);
    out[key] = given[0];
  }
  return out;
}

/**
 * The body as `read` gives it, marked read (the time limit then answers 503,
 * not 408); a connection that closes meanwhile is a {@link ClientGoneError},
 * and `read`'s own problems pass through.
 */
export async function readBody<T>(c: Context<AppEnv>, read: () => Promise<T>): Promise<T> {
  let body: T;
  try {
    body = await read();
  } catch (error) {
    if (error instanceof HttpProblem) throw error;
    throw new ClientGoneError(
      `the connection closed while the body was arriving (${(error as Error).message})`,
    );
  }
  c.set("readingBody", false);
  return body;
}

/** The JSON body; another content type is a 415 problem, malformed JSON a 400. */
export async function readJsonBody(c: Context<AppEnv>): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(type)) {
    throw new HttpProblem(
      "unsupported-media-type",
      `the body is sent as "${
        type || "(no content type)"
      }"; send JSON with content-type application/json.`,
    );
  }
  // The app's body-limit middleware has refused bodies over the limit (and read chunked ones).
  const text = await readBody(c, () => c.req.text());
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpProblem(
      "invalid-request",
      `the body is not valid JSON: ${(error as Error).message}`,
      {
        errors: [{ field: "body", message: "is not valid JSON" }],
      },
    );
  }
}
