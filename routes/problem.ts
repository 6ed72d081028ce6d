/**
 * Errors as HTTP problem details (RFC 9457, `application/problem+json`):
 * `type` (a link into the docs page), `title`, `status`, `detail`, the
 * request path as `instance`, and for invalid input the offending fields.
 *
 * @module
 */

import { z } from "zod";

/** The body of every problem response, as {@link problemResponse} writes it. */
export const ProblemSchema = z.object({
  type: z.string().describe("a link to the problem's kind in the docs page (/docs#problem-<slug>)"),
  title: z.string().describe("the kind of problem, the same for every problem of its type"),
  status: z.number().int().describe("the HTTP status"),
  detail: z.string().describe("what is wrong with this request, and what to do"),
  instance: z.string().describe("the request's path"),
  errors: z.array(z.object({
    field: z.string().describe("where: path.seed, query.size, body.latents.0.3 ..."),
    message: z.string().describe("what is wrong with it"),
  })).optional().describe("for invalid input: each offending field"),
}).describe("a problem (RFC 9457)");

/** One invalid field: where it is (`path.seed`, `query.size`, `body.latents.0.3`) and why. */
export interface FieldError {
  field: string;
  message: string;
}

/** The kinds of problem the API answers with, by slug. */
export const PROBLEMS = {
  "invalid-request": { status: 400, title: "The request is invalid" },
  "unauthorized": { status: 401, title: "A valid API key is required" },
  "not-found": { status: 404, title: "No such resource" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  "not-acceptable": { status: 406, title: "No answer of an accepted media type" },
  "request-timeout": { status: 408, title: "The request did not arrive in time" },
  "body-too-large": { status: 413, title: "The request body is too large" },
  "image-too-large": { status: 413, title: "The photo has too many pixels" },
  "unsupported-media-type": { status: 415, title: "The body's media type is not accepted" },
  "too-much-work": { status: 422, title: "The request needs more time than the server allows" },
  "unavailable": { status: 503, title: "The server is busy" },
  "timeout": { status: 503, title: "The request took too long" },
  "stopping": { status: 503, title: "The server is stopping" },
  "internal": { status: 500, title: "Internal server error" },
  "encoding-unavailable": { status: 501, title: "This model cannot encode photos" },
  "gradients-unavailable": { status: 501, title: "This model cannot take gradient steps" },
} as const;

/** A slug of {@link PROBLEMS}. */
export type ProblemKind = keyof typeof PROBLEMS;

/** A failure that the API reports as a problem-details response. */
export class HttpProblem extends Error {
  override name = "HttpProblem";
  readonly kind: ProblemKind;
  readonly errors?: FieldError[];
  readonly headers: Record<string, string>;

  constructor(
    kind: ProblemKind,
    detail: string,
    options: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.kind = kind;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return PROBLEMS[this.kind].status;
  }
}

/** An invalid-request problem naming one field. */
export function invalidField(field: string, message: string): HttpProblem {
  return new HttpProblem("invalid-request", `${field}: ${message}`, {
    errors: [{ field, message }],
  });
}

/**
 * The most field errors a problem lists, and the most characters of its
 * detail and of each field and message: they quote the request (a name, a
 * parameter), whose size the client chooses.
 */
export const PROBLEM_LIMITS = { errors: 20, detail: 1000, text: 200 } as const;

/** `text` cut to `most` characters, marked where it was cut. */
function clipped(text: string, most: number): string {
  return text.length <= most ? text : `${text.slice(0, most - 1)}…`;
}

/** The response of `problem` for the request to `path`. */
export function problemResponse(problem: HttpProblem, path: string): Response {
  const { status, title } = PROBLEMS[problem.kind];
  const errors = problem.errors?.slice(0, PROBLEM_LIMITS.errors).map(({ field, message }) => ({
    field: clipped(field, PROBLEM_LIMITS.text),
    message: clipped(message, PROBLEM_LIMITS.text),
  }));
  const more = (problem.errors?.length ?? 0) - (errors?.length ?? 0);
  const body = {
    type: `/docs#problem-${problem.kind}`,
    title,
    status,
    detail: clipped(problem.message, PROBLEM_LIMITS.detail) +
      (more > 0 ? ` (${more} more errors not listed)` : ""),
    instance: clipped(path, PROBLEM_LIMITS.text),
    ...(errors ? { errors } : {}),
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json", ...problem.headers },
  });
}
