/**
 * The docs page (`GET /docs`): the OpenAPI document rendered as one HTML
 * page with no external assets, and the problem types that error responses
 * link to.
 *
 * @module
 */

import { PROBLEMS } from "./problem.ts";

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Operation {
  summary: string;
  description?: string;
  parameters: { name: string; in: string; required: boolean; description?: string }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, unknown> }>;
}

/** The id of an endpoint's heading, which the contents link to: `get-v1-images-seed-png`. */
function anchor(method: string, path: string): string {
  return `${method}-${path}`.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** The docs page of `document` (an OpenAPI 3.1 document from `openApiDocument`). */
export function docsPage(document: Record<string, unknown>): string {
  const info = document.info as { title: string; version: string; description: string };
  const paths = document.paths as Record<string, Record<string, Operation>>;
  const endpoints = Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      op,
      id: anchor(method, path),
      name: `${method.toUpperCase()} ${escape(path)}`,
    }))
  );
  const contents = endpoints.map(({ id, name, op }) =>
    `<li><a href="#${id}"><code>${name}</code></a>: ${escape(op.summary)}</li>`
  ).join("");
  const sections = endpoints.map(({ op, id, name }) => {
    const parameters = op.parameters.map((p) =>
      `<tr><td><code>${escape(p.name)}</code></td><td>${p.in}${
        p.required ? "" : ", optional"
      }</td>` +
      `<td>${escape(p.description ?? "")}</td></tr>`
    ).join("");
    const json = op.requestBody?.content["application/json"];
    // Folded: the schemas run to hundreds of lines between one endpoint and the next.
    const body = !op.requestBody
      ? ""
      : json
      ? `<details><summary>JSON body schema</summary><pre>${
        escape(JSON.stringify(json.schema, null, 2))
      }</pre></details>`
      : `<p>Body: ${
        Object.keys(op.requestBody.content).map((type) => `<code>${escape(type)}</code>`)
          .join(", ")
      }</p>`;
    const responses = Object.entries(op.responses).map(([status, r]) =>
      `<li><b>${status}</b> ${escape(r.description)}${
        r.content ? ` (<code>${escape(Object.keys(r.content).join(", "))}</code>)` : ""
      }</li>`
    ).join("");
    return `<section><h3 id="${id}"><code>${name}</code></h3>` +
      `<p>${escape(op.summary)}</p>${op.description ? `<p>${escape(op.description)}</p>` : ""}` +
      (parameters
        ? `<table><tr><th>parameter</th><th>in</th><th>meaning</th></tr>${parameters}</table>`
        : "") +
      `${body}<ul>${responses}</ul></section>`;
  }).join("\n");
  const problems = Object.entries(PROBLEMS).map(([slug, p]) =>
    `<li id="problem-${slug}"><b>${p.status}</b> <code>${slug}</code>: ${escape(p.title)}</li>`
  ).join("");
  // The browser's light or dark colours, with greys that read on both; a schema's long lines and
  // long paths wrap on a phone rather than scroll (a region that scrolls needs a keyboard stop of
  // its own, and a page wider than the screen is laid out too small to read).
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escape(info.title)}</title>
<style>:root{color-scheme:light dark;background:Canvas;color:CanvasText}
body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
pre{background:#8882;padding:.6rem;white-space:pre-wrap}pre,code{overflow-wrap:anywhere}
table{border-collapse:collapse}td,th{border:1px solid #8886;padding:.2rem .5rem;text-align:left}
section{margin-bottom:1.5rem}</style>
</head><body><main><h1>${escape(info.title)} <small>${escape(info.version)}</small></h1>
<p>${escape(info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Try
<a href="/v1/images/1.png">/v1/images/1.png</a>,
<a href="/v1/images/1/concepts.png?style=overlay&amp;size=256">its concept map</a> or
<a href="/v1/images/1/kernels.png">all its kernels</a>.</p>
<nav aria-labelledby="contents"><h2 id="contents">Contents</h2><ul>${contents}
<li><a href="#problem-types">Problem types</a></li></ul></nav>
<h2>Endpoints</h2>${sections}
<h2 id="problem-types">Problem types</h2>
<p>Errors answer <code>application/problem+json</code> (RFC 9457) with
<code>type</code> linking here, <code>title</code>, <code>status</code>, <code>detail</code> and, for
invalid input, <code>errors</code>: the fields and what is wrong with them.</p><ul>${problems}</ul>
</main></body></html>`;
}
