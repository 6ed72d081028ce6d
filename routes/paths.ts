/**
 * Route paths, written in OpenAPI form (`/v1/images/{seed}.png`), in Hono's
 * form and matched against request paths. A parameter may carry a file
 * extension inside its segment; Hono cannot express that, so the segment is
 * matched as a whole (`:seed{[^/]+\.png}`) and {@link pathParams} strips the
 * extension before validation.
 *
 * @module
 */

/** One segment of an OpenAPI path. */
export interface PathSegment {
  /** Literal text, or a parameter name. */
  text: string;
  param: boolean;
  /** A file extension that follows the parameter inside the segment (".png"). */
  extension: string;
}

/** The segments of an OpenAPI path. */
export function parsePath(path: string): PathSegment[] {
  return path.split("/").slice(1).map((segment) => {
    const match = /^\{(\w+)\}(\.\w+)?$/.exec(segment);
    return match
      ? { text: match[1], param: true, extension: match[2] ?? "" }
      : { text: segment, param: false, extension: "" };
  });
}

/** The raw path parameters of a matched request, extensions stripped; `param` reads Hono's. */
export function pathParams(
  segments: readonly PathSegment[],
  param: (name: string) => string | undefined,
): Record<string, string> {
  const raw: Record<string, string> = {};
  for (const s of segments.filter((s) => s.param)) {
    const value = param(s.text) ?? "";
    raw[s.text] = s.extension ? value.slice(0, -s.extension.length) : value;
  }
  return raw;
}

/** The Hono path of an OpenAPI path. */
export function honoPath(path: string): string {
  return "/" +
    parsePath(path).map((s) =>
      !s.param ? s.text : s.extension ? `:${s.text}{[^/]+\\${s.extension}}` : `:${s.text}`
    ).join("/");
}

/** Whether `pathname` matches the OpenAPI path `path` (for 405 answers). */
export function matchesPath(path: string, pathname: string): boolean {
  const segments = parsePath(path), parts = pathname.split("/").slice(1);
  return segments.length === parts.length &&
    segments.every((s, k) =>
      s.param
        ? parts[k].length > s.extension.length && parts[k].endsWith(s.extension)
        : parts[k] === s.text
    );
}
