import { deepEqual, match, ok } from "node:assert/strict";
import { docsPage } from "./docs.ts";

/** A document of two endpoints, one with a JSON body, as `openApiDocument` shapes them. */
const page = docsPage({
  info: { title: "the API", version: "1.0.0", description: "what it does" },
  paths: {
    "/v1/images/{seed}.png": {
      get: {
        summary: "A face",
        parameters: [{ name: "seed", in: "path", required: true }],
        responses: { "200": { description: "the picture" } },
      },
    },
    "/v1/swap": {
      post: {
        summary: "A swap",
        parameters: [],
        requestBody: {
          content: {
            "application/json": { schema: { type: "object", description: "x".repeat(300) } },
          },
        },
        responses: { "200": { description: "the swap" } },
      },
    },
  },
});

Deno.test("/docs is laid out for the device's width, in one main landmark", () => {
  match(page, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  match(page, /<body><main>.*<\/main><\/body><\/html>$/s);
});

Deno.test("/docs: its contents link to each endpoint's heading and to the problem types", () => {
  const contents = page.match(/<nav aria-labelledby="contents">.*?<\/nav>/s)![0];
  const links = [...contents.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]);
  deepEqual(links, ["get-v1-images-seed-png", "post-v1-swap", "problem-types"]);
  for (const id of links) match(page, new RegExp(`<h[23] id="${id}">`));
});

Deno.test("/docs: a JSON body's schema is folded, and wraps rather than scrolls", () => {
  match(
    page,
    /<details><summary>JSON body schema<\/summary><pre>\{\n {2}&#34;type&#34;: &#34;object&#34;/,
  );
  match(page, /pre\{[^}]*white-space:pre-wrap\}pre,code\{overflow-wrap:anywhere\}/);
  ok(!/overflow:auto/.test(page), "no scrolling region without a keyboard stop");
});

Deno.test("/docs follows the light or dark colours of the browser", () => {
  match(page, /:root\{color-scheme:light dark;background:Canvas;color:CanvasText\}/);
  ok(!/#f4f4f4|#ddd/.test(page), "no light-only greys");
});
