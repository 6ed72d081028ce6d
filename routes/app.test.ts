/**
 * The HTTP API through `app.request()` on the embedded default bundle: every
 * endpoint, caching, every class of bad input, the API key, CORS, the queue
 * bound and the time limit; and through a real server on a loopback port.
 */

import { deepEqual, equal, match, notDeepEqual, ok } from "node:assert/strict";
import { decodeImage, type RgbImage } from "../core/image.ts";
import { sha256Hex } from "../core/sha256.ts";
import { DEFAULT_MODEL } from "../model/bundle.ts";
import { latentForSeed } from "../model/latents.ts";
import { ServedModel } from "../model/model.ts";
import { createApp } from "./app.ts";
import { DEFAULT_SERVER_CONFIG, type ServerConfig } from "./config.ts";

const model = await ServedModel.load(DEFAULT_MODEL, {
  threads: 1,
  maxBatch: DEFAULT_SERVER_CONFIG.maxBatch,
  maxQueuedRows: DEFAULT_SERVER_CONFIG.maxQueuedImages,
});
const { manifest } = model;
const S = manifest.resolution;

function appWith(config: Partial<ServerConfig> = {}, served = model) {
  return createApp({ model: served, config: { ...DEFAULT_SERVER_CONFIG, ...config } });
}
const app = appWith();

async function png(response: Response): Promise<RgbImage> {
  equal(response.status, 200, await response.clone().text());
  equal(response.headers.get("content-type"), "image/png");
  return decodeImage(new Uint8Array(await response.arrayBuffer()));
}

function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  return app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A PNG of a JSON answer, decoded. */
function decode(base64: string): RgbImage {
  return decodeImage(Uint8Array.fromBase64(base64));
}

/** Whether each pixel of a mask picture is tinted (the swapped region), i.e. unlike the target. */
function tintedPixels(mask: RgbImage, target: RgbImage): boolean[] {
  return Array.from(
    { length: mask.width * mask.height },
    (_, p) =>
      mask.data[p * 3] !== target.data[p * 3] || mask.data[p * 3 + 1] !== target.data[p * 3 + 1],
  );
}

/** Mean squared RGB difference of two images over the pixels where `where` holds. */
function meanSquared(a: RgbImage, b: RgbImage, where: (p: number) => boolean): number {
  let sum = 0, count = 0;
  for (let p = 0; p < a.width * a.height; p++) {
    if (!where(p)) continue;
    for (let c = 0; c < 3; c++) sum += (a.data[p * 3 + c] - b.data[p * 3 + c]) ** 2;
    count++;
  }
  return sum / Math.max(count, 1);
}

Deno.test("GET /v1/model answers the manifest and the limits", async () => {
  const response = await app.request("/v1/model");
  equal(response.status, 200);
  const body = await response.json();
  deepEqual(body.groups, manifest.groups);
  equal(body.latent, manifest.latent);
  equal(body.model.description, manifest.model.description);
  deepEqual(body.limits, { maxBatch: 16, maxImageSize: 512 });
});

Deno.test("GET /v1/images/{seed}.png: deterministic bytes, sizes, truncation, strong ETag and 304 without inference", async () => {
  const first = await app.request("/v1/images/7.png");
  const bytes = new Uint8Array(await first.clone().arrayBuffer());
  const image = await png(first);
  deepEqual([image.width, image.height], [S, S]);
  ok(new Set(image.data).size > 32, "the image is not flat");
  deepEqual(new Uint8Array(await (await app.request("/v1/images/7.png")).arrayBuffer()), bytes);
  const etag = first.headers.get("etag")!;
  match(etag, /^"[0-9a-f]{32}"$/);
  equal(first.headers.get("cache-control"), "public, max-age=86400");
  const runs = model.stats.runs;
  const cached = await app.request("/v1/images/7.png", { headers: { "if-none-match": etag } });
  equal(cached.status, 304);
  equal(await cached.text(), "");
  equal(cached.headers.get("etag"), etag);
  equal(model.stats.runs, runs, "a 304 runs no inference");
  const weak = await app.request("/v1/images/7.png", { headers: { "if-none-match": `W/${etag}` } });
  equal(weak.status, 304, "If-None-Match compares weakly");
  equal(model.stats.runs, runs);
  // `*`: 304 only for a picture that exists; a bad concept stays a 400.
  const star = { headers: { "if-none-match": "*" } };
  equal((await app.request("/v1/images/7.png", star)).status, 304);
  const badConcept = await app.request("/v1/swap/1/2.png?concepts=nosuch", star);
  equal(badConcept.status, 400);
  equal(badConcept.headers.get("cache-control"), null);
  notDeepEqual((await app.request("/v1/images/8.png")).headers.get("etag"), etag);
  const big = await png(await app.request("/v1/images/7.png?size=160"));
  deepEqual([big.width, big.height], [160, 160]);
  const truncated = await png(await app.request("/v1/images/7.png?truncation=0.5"));
  deepEqual(await png(await app.request("/v1/images/7.png?truncation=5e-1")), truncated);
  notDeepEqual(truncated.data, image.data);
});

Deno.test("answers that drew pictures say where the time went (Server-Timing); others do not", async () => {
  const drawn = await app.request("/v1/images/11.png");
  await drawn.body?.cancel();
  const header = drawn.headers.get("server-timing") ?? "";
  const entries = Object.fromEntries(
    header.split(", ").map((entry) => {
      const [name, dur] = entry.split(";dur=");
      return [name, Number(dur)];
    }),
  );
  deepEqual(Object.keys(entries), ["queue", "render", "inference"], header);
  ok(entries.inference > 0, "the head and tail ran");
  ok(entries.render >= entries.inference, "inference is part of the render");
  equal((await app.request("/healthz")).headers.get("server-timing"), null);
});

Deno.test("POST /v1/generate: one image as PNG, several as JSON, explicit latents equal their seeds", async () => {
  const one = await png(await postJson("/v1/generate", { seeds: [7] }));
  deepEqual(one, await png(await app.request("/v1/images/7.png")));
  const latent = Array.from(latentForSeed(7, manifest.latent));
  deepEqual(await png(await postJson("/v1/generate", { latents: [latent] })), one);
  const several = await postJson("/v1/generate", { seeds: [7, 8, 9], size: 32 });
  equal(several.headers.get("content-type"), "application/json");
  const { images } = await several.json();
  deepEqual(images.map((i: { seed: number }) => i.seed), [7, 8, 9]);
  const decoded = images.map((i: { png: string }) => decode(i.png));
  deepEqual(decoded.map((d: RgbImage) => d.width), [32, 32, 32]);
  notDeepEqual(decoded[0].data, decoded[1].data);
});

Deno.test("POST /v1/generate follows Accept: JSON for one image when asked, 406 when JSON is excluded", async () => {
  const asked = await postJson("/v1/generate", { seeds: [7] }, { accept: "application/json" });
  equal(asked.headers.get("content-type"), "application/json");
  const [image] = (await asked.json()).images;
  deepEqual(decode(image.png), await png(await app.request("/v1/images/7.png")));
  const preferred = await postJson("/v1/generate", { seeds: [7] }, {
    accept: "image/png;q=0.5, application/json",
  });
  equal(preferred.headers.get("content-type"), "application/json");
  await preferred.body?.cancel();
  const browser = await postJson("/v1/generate", { seeds: [7] }, {
    accept: "text/html,application/xhtml+xml,*/*;q=0.8",
  });
  equal(browser.headers.get("content-type"), "image/png");
  await browser.body?.cancel();
  const refused = await postJson("/v1/generate", { seeds: [7, 8] }, { accept: "image/png" });
  equal(refused.status, 406);
  equal(refused.headers.get("content-type"), "application/problem+json");
  match((await refused.json()).detail, /excludes application\/json.*ask for one image/);
});

Deno.test("kernel maps, the kernel grid, the concept map and group centres", async (t) => {
  for (const style of ["heat", "overlay", "contour"]) {
    await t.step(`kernel 3, ${style}`, async () => {
      const image = await png(
        await app.request(`/v1/images/5/kernels/3.png?style=${style}&size=96`),
      );
      deepEqual([image.width, image.height], [96, 96]);
    });
  }
  await t.step("heat maps are not flat, and different kernels draw different maps", async () => {
    const [a, b] = await Promise.all(
      [3, 4].map(async (k) => await png(await app.request(`/v1/images/5/kernels/${k}.png`))),
    );
    ok(new Set(a.data).size > 8, "kernel 3's map has structure");
    notDeepEqual(a.data, b.data);
  });
  await t.step("all kernels in a grid ordered by group", async () => {
    const columns = Math.ceil(Math.sqrt(manifest.target.channels));
    const rows = Math.ceil(manifest.target.channels / columns);
    const grid = await png(await app.request("/v1/images/5/kernels.png?size=20"));
    deepEqual([grid.width, grid.height], [columns * 22 - 2, rows * 22 - 2]);
  });
  await t.step("the concept map uses the groups' colours", async () => {
    const map = await png(await app.request("/v1/images/5/concepts.png"));
    const colors = new Set(manifest.groups.map((g) => g.color));
    let coloured = 0;
    for (let p = 0; p < map.width * map.height; p++) {
      const [r, g, b] = map.data.subarray(p * 3, p * 3 + 3);
      if (r + g + b === 0) continue;
      ok(colors.has(`#${[r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("")}`));
      coloured++;
    }
    ok(coloured > 0, "some positions belong to a group");
    await png(await app.request("/v1/images/5/concepts.png?style=overlay"));
  });
  await t.step("one group's centre", async () => {
    const image = await png(await app.request("/v1/images/5/concepts/0.png?style=contour"));
    deepEqual([image.width, image.height], [S, S]);
  });
});

Deno.test("a client can run the model itself: the ONNX files and the latent of a seed", async () => {
  for (const part of ["head", "tail"] as const) {
    const response = await app.request(`/v1/model/${part}.onnx`);
    equal(response.status, 200);
    equal(response.headers.get("content-type"), "application/octet-stream");
    const bytes = new Uint8Array(await response.arrayBuffer());
    equal(sha256Hex(bytes), manifest.files[part].sha256, `${part}.onnx is the bundle's`);
    ok(response.headers.get("etag"), "immutable: cached by ETag");
  }
  const latent = await (await app.request("/v1/latents/42.json?truncation=0.5")).json();
  equal(latent.seed, 42);
  deepEqual(latent.latent, Array.from(latentForSeed(42, manifest.latent, 0.5)));
  const stand = ServedModel.fromRunner(
    manifest,
    () => Promise.reject(new Error("none")),
    () => Promise.resolve(),
    { maxBatch: 1, maxQueuedRows: 1 },
  );
  const missing = await appWith({}, stand).request("/v1/model/head.onnx");
  equal(missing.status, 404);
  match((await missing.json()).detail, /no ONNX files/);
});

Deno.test("GET / is the studio; its script and onnxruntime-web's browser build come from here", async () => {
  const page = await app.request("/");
  equal(page.status, 200);
  match(page.headers.get("content-type")!, /^text\/html/);
  const html = await page.text();
  match(html, /<script type="module" src="\/studio\/studio.js">/);
  ok(!/(src|href)="https?:/.test(html), "no external assets");
  for (const path of ["/studio/studio.js", "/core/swap_maps.js"]) {
    const script = await app.request(path);
    equal(script.status, 200, path);
    match(script.headers.get("content-type")!, /^text\/javascript/);
    await script.body?.cancel();
  }
  const runtime = await app.request("/studio/ort/ort.wasm.bundle.min.mjs");
  equal(runtime.status, 200);
  await runtime.body?.cancel();
  const wasm = await app.request("/studio/ort/ort-wasm-simd-threaded.wasm");
  equal(wasm.headers.get("content-type"), "application/wasm");
  await wasm.body?.cancel();
  const other = await app.request("/studio/ort/..%2F..%2Fpackage.json");
  equal(other.status, 404);
  match((await other.json()).detail, /the runtime files are/);
});

/** The three largest groups: a multi-group concept. */
const bigGroups = [...manifest.groups].sort((a, b) => b.channels.length - a.channels.length)
  .slice(0, 3).map((g) => g.id).join(",");
/**
 * The face's groups: a concept with a region of its own to measure a swap's locality on (the
 * background groups' swaps change the whole picture, as the tail renders them).
 */
const faceGroups = manifest.face!.join(",");

Deno.test("a swap changes pixels inside the swapped concept's region more than outside", async () => {
  const runs = model.stats;
  const response = await postJson("/v1/swap", {
    target: 11,
    source: 12,
    concepts: faceGroups.split(",").map(Number),
    include: ["mask", "originals", "difference"],
  });
  equal(response.status, 200);
  const after = model.stats;
  equal(after.runs - runs.runs, 2, "one head run on [target, source], one tail run");
  const body = await response.json();
  const [swapped, target, mask] = [decode(body.swapped), decode(body.target), decode(body.mask)];
  deepEqual(target, await png(await app.request("/v1/images/11.png")));
  // The mask picture is the target tinted red over the swapped region.
  const tinted = tintedPixels(mask, target);
  const inside = (p: number) => tinted[p];
  const insideCount = Array.from({ length: S * S }, (_, p) => p).filter(inside).length;
  ok(insideCount > 0 && insideCount < S * S, `the region has ${insideCount} of ${S * S} pixels`);
  const [within, outside] = [
    meanSquared(swapped, target, inside),
    meanSquared(swapped, target, (p) => !inside(p)),
  ];
  ok(within > outside, `inside ${within.toFixed(1)} vs outside ${outside.toFixed(1)}`);
  deepEqual(body.groups, faceGroups.split(",").map(Number).sort((a, b) => a - b));

  const get = await png(await app.request(`/v1/swap/11/12.png?concepts=${faceGroups}`));
  deepEqual(get, swapped, "GET and POST swap the same way");
  const strip = await png(
    await app.request(`/v1/swap/11/12.png?concepts=${faceGroups}&view=strip`),
  );
  deepEqual([strip.width, strip.height], [5 * S + 4 * 2, S]);
  const nothing = await png(await app.request(`/v1/swap/11/11.png?concepts=${faceGroups}`));
  deepEqual(nothing, target, "swapping an image with itself changes nothing");
});

Deno.test("mode=region also carries every filter inside the region: closer to the source there; wide a larger region", async () => {
  const concepts = bigGroups.split(",").map(Number);
  const swap = async (mode: string) => {
    const response = await postJson("/v1/swap", {
      target: 21,
      source: 22,
      concepts,
      mode,
      include: ["mask", "originals"],
    });
    equal(response.status, 200);
    const body = await response.json();
    return {
      swapped: decode(body.swapped),
      target: decode(body.target),
      source: decode(body.source),
      mask: decode(body.mask),
    };
  };
  const [groups, region] = [await swap("groups"), await swap("region")];
  deepEqual(region.mask, groups.mask, "both modes swap the same region");
  const inRegion = tintedPixels(region.mask, region.target);
  const inside = (p: number) => inRegion[p];
  const [toSourceGroups, toSourceRegion] = [groups, region].map((r) =>
    meanSquared(r.swapped, r.source, inside)
  );
  ok(
    toSourceRegion < toSourceGroups,
    `inside the region: ${toSourceRegion.toFixed(1)} (region) vs ${
      toSourceGroups.toFixed(1)
    } (groups)`,
  );
  const get = await png(
    await app.request(`/v1/swap/21/22.png?concepts=${bigGroups}&mode=region`),
  );
  deepEqual(get, region.swapped, "GET takes the mode too");
  // "wide" swaps the region grown by a margin: its mask holds the region's and more.
  const wide = await swap("wide");
  const inWide = tintedPixels(wide.mask, wide.target);
  ok(inRegion.every((m, p) => !m || inWide[p]), "the wide mask holds the region's");
  ok(
    inWide.filter(Boolean).length > inRegion.filter(Boolean).length,
    "and more",
  );
});

Deno.test("a multi-group swap's mask is the union of its groups' masks", async () => {
  const tinted = async (concepts: string) => {
    const [target, mask] = await Promise.all([
      png(await app.request("/v1/images/42.png")),
      png(await app.request(`/v1/swap/42/7.png?concepts=${concepts}&view=mask`)),
    ]);
    const inside = tintedPixels(mask, target);
    return new Set(Array.from({ length: S * S }, (_, p) => p).filter((p) => inside[p]));
  };
  const ids = bigGroups.split(",");
  const union = await tinted(bigGroups);
  for (const id of ids) {
    const single = await tinted(id);
    ok(single.size > 0, `group ${id} has a region`);
    ok([...single].every((p) => union.has(p)), `group ${id}'s mask lies inside the union`);
  }
  ok(union.size > 0 && union.size < S * S, `the union has ${union.size} of ${S * S} pixels`);
});

Deno.test("a label of two words names its groups, in queries, paths and bodies", async () => {
  const label = manifest.groups.find((g) => g.label?.includes(" "))?.label;
  ok(label, "the default bundle has a two-word label");
  const ids = manifest.groups.filter((g) => g.label === label).map((g) => g.id).join(",");
  const bytes = async (path: string) => {
    const response = await app.request(path);
    equal(response.status, 200, `${path}: ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  };
  const named = encodeURIComponent(label);
  deepEqual(
    await bytes(`/v1/swap/42/7.png?concepts=${named}`),
    await bytes(`/v1/swap/42/7.png?concepts=${ids}`),
  );
  deepEqual(
    await bytes(`/v1/swap/42/7.png?concepts=mouth,%20${named}`),
    await bytes(`/v1/swap/42/7.png?concepts=mouth,${named}`),
  );
  ok((await bytes(`/v1/images/42/concepts/${named}.png`)).length > 0);
  const body = await app.request("/v1/swap", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ target: 42, source: 7, concepts: [label] }),
  });
  equal(body.status, 200);
  deepEqual((await body.json()).groups, ids.split(",").map(Number));
});

/** [method, path, body (or raw string), status, field or detail pattern]. */
const BAD_INPUTS: [string, string, unknown, number, RegExp][] = [
  ["GET", "/v1/nothing", undefined, 404, /there is no \/v1\/nothing/],
  ["GET", "/v1/images/7.jpg", undefined, 404, /there is no/],
  ["DELETE", "/v1/images/7.png", undefined, 405, /use GET/],
  ["GET", "/v1/generate", undefined, 405, /use POST/],
  ["POST", "/docs", undefined, 405, /use GET or HEAD/],
  ["GET", "/v1/model?foo=1", undefined, 400, /query\.foo/],
  ["POST", "/v1/generate?foo=1", { seeds: [1] }, 400, /query\.foo/],
  ["POST", "/studio/ort/ort.wasm.bundle.min.mjs", undefined, 405, /use GET or HEAD/],
  ["GET", "/v1/images/-1.png", undefined, 400, /path\.seed/],
  ["GET", "/v1/images/4294967296.png", undefined, 400, /path\.seed/],
  ["GET", "/v1/images/7.png?=64", undefined, 400, /empty name/],
  [
    "GET",
    `/healthz?${Array.from({ length: 40 }, (_, k) => `p${k}=1`).join("&")}`,
    undefined,
    400,
    /^query: has 40 parameters; no route takes more than 32 /,
  ],
  ["GET", "/v1/images/1.5.png", undefined, 400, /path\.seed/],
  ["GET", "/v1/images/007.png", undefined, 400, /path\.seed: .* without a sign or leading zeros/],
  // The bound the client can act on, not also zod's safe-integer range.
  [
    "GET",
    "/v1/images/9007199254740993.png",
    undefined,
    400,
    /^path\.seed: must be an integer in 0\.\.4294967295 /,
  ],
  ["GET", "/v1/images/abc.png", undefined, 400, /path\.seed/],
  ["GET", "/v1/images/1.png?truncation=0", undefined, 400, /query\.truncation/],
  ["GET", "/v1/images/1.png?truncation=1.5", undefined, 400, /query\.truncation/],
  ["GET", "/v1/images/1.png?truncation=NaN", undefined, 400, /query\.truncation/],
  ["GET", "/v1/images/1.png?truncation=Infinity", undefined, 400, /query\.truncation/],
  ["GET", "/v1/images/1.png?truncation=1e", undefined, 400, /query\.truncation/],
  [
    "GET",
    "/v1/images/1.png?truncation=1e400",
    undefined,
    400,
    /truncation: must be a finite number /,
  ],
  ["GET", "/v1/images/1.png?truncation=-5e-1", undefined, 400, /query\.truncation/],
  ["GET", "/v1/images/1.png?size=8", undefined, 400, /query\.size/],
  ["GET", "/v1/images/1.png?size=100000", undefined, 400, /query\.size/],
  ["GET", "/v1/images/1.png?colour=red", undefined, 400, /query\.colour/],
  ["GET", "/v1/images/1.png?size=64&size=32", undefined, 400, /query\.size/],
  ["GET", `/v1/images/1/kernels/${manifest.target.channels}.png`, undefined, 400, /path\.kernel/],
  ["GET", "/v1/images/1/kernels/-1.png", undefined, 400, /path\.kernel/],
  ["GET", "/v1/images/1/kernels/2.png?style=glow", undefined, 400, /query\.style/],
  ["GET", "/v1/images/1/kernels.png?size=4000", undefined, 400, /query\.size/],
  ["GET", "/v1/images/1/concepts/99.png", undefined, 400, /path\.group.*no group 99/],
  ["GET", "/v1/images/1/concepts/elbow.png", undefined, 400, /path\.group.*not a group id/],
  ["GET", "/v1/images/1/concepts/02.png", undefined, 400, /path\.group.*not a group id/],
  ["GET", "/v1/swap/1/2.png", undefined, 400, /query\.concepts/],
  ["GET", "/v1/swap/1/2.png?concepts=elbow", undefined, 400, /query\.concepts/],
  ["GET", "/v1/swap/1/2.png?concepts=1,,2", undefined, 400, /query\.concepts/],
  ["GET", "/v1/swap/1/2.png?concepts=1&view=all", undefined, 400, /query\.view/],
  ["GET", "/v1/swap/1/2.png?concepts=1&mode=all", undefined, 400, /query\.mode/],
  ["POST", "/v1/generate", '{"seeds": [1,', 400, /not valid JSON/],
  ["POST", "/v1/generate", "", 400, /not valid JSON/],
  ["POST", "/v1/generate", {}, 400, /body\.seeds.*exactly one/],
  ["POST", "/v1/maps", { image: 1, view: "kernels", size: 512 }, 400, /body\.size: is at most/],
  ["POST", "/v1/maps", { image: 1, view: "concepts", kernel: 3 }, 400, /body\.kernel: applies/],
  // A value of no member's shape is told the union's alternatives, not the first member's type.
  [
    "POST",
    "/v1/maps",
    { image: { seed: 4 }, view: "concepts" },
    400,
    /body\.image: must be a seed/,
  ],
  [
    "POST",
    "/v1/maps",
    { image: 1, view: "group", group: 2.5 },
    400,
    /body\.group: must be a group id/,
  ],
  [
    "POST",
    "/v1/swap",
    { target: 1, source: 2, concepts: [2.5] },
    400,
    /concepts\.0: must be a group/,
  ],
  ["GET", "/v1/swap/1/2.png", undefined, 400, /query\.concepts: is required/],
  ["POST", "/v1/generate", { seeds: [1], latents: [[0]] }, 400, /body\.latents\.0/],
  ["POST", "/v1/generate", { seeds: ["1"] }, 400, /body\.seeds\.0/],
  ["POST", "/v1/generate", { seeds: [1.5] }, 400, /body\.seeds\.0: must be an integer/],
  [
    "POST",
    "/v1/generate",
    { seeds: [2 ** 53] },
    400,
    /^body\.seeds\.0: must be at most 4294967295 /,
  ],
  ["POST", "/v1/generate", { seeds: [-3] }, 400, /body\.seeds\.0/],
  ["POST", "/v1/generate", '{"latents": [[1e999]]}', 400, /body\.latents\.0\.0: must be a finite/],
  ["POST", "/v1/generate", { latents: [[0, 1]] }, 400, /body\.latents\.0.*128|body\.latents\.0/],
  [
    "POST",
    "/v1/generate",
    { seeds: Array.from({ length: 17 }, (_, k) => k) },
    400,
    /^body\.seeds: must have at most 16 items /,
  ],
  ["POST", "/v1/generate", { seeds: [1], size: 9999 }, 400, /body\.size/],
  ["POST", "/v1/generate", { seeds: [1], colour: "red" }, 400, /body\.colour/],
  ["POST", "/v1/generate", [1, 2], 400, /body/],
  ["POST", "/v1/swap", { target: 1, source: 2, concepts: ["elbow"] }, 400, /body\.concepts/],
  ["POST", "/v1/swap", { target: 1, source: 2, concepts: [] }, 400, /body\.concepts/],
  ["POST", "/v1/swap", { target: 1, source: 2, concepts: [1], mode: "x" }, 400, /body\.mode/],
  ["POST", "/v1/swap", { target: { latent: [1] }, source: 2, concepts: [0] }, 400, /body\.target/],
  [
    "POST",
    "/v1/swap",
    { target: 1, source: 2, concepts: [0], include: ["x"] },
    400,
    /body\.include/,
  ],
];

Deno.test("a compressed body is a 415 that says to send it uncompressed", async () => {
  const response = await app.request("/v1/generate", {
    method: "POST",
    headers: { "content-type": "application/json", "content-encoding": "gzip" },
    body: new Uint8Array([0x1f, 0x8b, 8, 0]),
  });
  equal(response.status, 415);
  match((await response.json()).detail, /content-encoding gzip; send it uncompressed/);
});

Deno.test("every bad input answers a 4xx application/problem+json that names the field", async (t) => {
  for (const [method, path, body, status, pattern] of BAD_INPUTS) {
    await t.step(
      `${method} ${path} ${body === undefined ? "" : JSON.stringify(body).slice(0, 40)}`,
      async () => {
        const init: RequestInit = { method };
        if (body !== undefined) {
          init.headers = { "content-type": "application/json" };
          init.body = typeof body === "string" ? body : JSON.stringify(body);
        }
        const response = await app.request(path, init);
        equal(response.status, status);
        equal(response.headers.get("content-type"), "application/problem+json");
        const problem = await response.json();
        equal(problem.status, status);
        match(problem.type, /^\/docs#problem-/);
        match(`${problem.detail} ${JSON.stringify(problem.errors ?? [])}`, pattern);
        if (status === 400 && !/JSON/.test(problem.detail)) {
          ok(
            Array.isArray(problem.errors) && problem.errors.length > 0,
            "invalid fields are listed",
          );
        }
      },
    );
  }
  await t.step("a body of another content type: 415", async () => {
    const response = await app.request("/v1/generate", { method: "POST", body: "seeds=1" });
    equal(response.status, 415);
    equal(response.headers.get("content-type"), "application/problem+json");
  });
  await t.step("a body over the limit: 413", async () => {
    const small = appWith({ maxBodyBytes: 1024 });
    const response = await small.request("/v1/generate", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ latents: [Array(600).fill(0)] }),
    });
    equal(response.status, 413);
    equal(response.headers.get("content-type"), "application/problem+json");
  });
});

Deno.test("the API key guards /v1/* and CORS answers the allowed origins", async () => {
  const guarded = appWith({ apiKey: "s3cret", corsOrigins: ["https://app.example"] });
  const denied = await guarded.request("/v1/model");
  equal(denied.status, 401);
  equal(denied.headers.get("content-type"), "application/problem+json");
  equal((await guarded.request("/v1/model", { headers: { "x-api-key": "wrong" } })).status, 401);
  equal((await guarded.request("/v1/model", { headers: { "x-api-key": "s3cret" } })).status, 200);
  const bearer = await guarded.request("/v1/model", {
    headers: { authorization: "Bearer s3cret", origin: "https://app.example" },
  });
  equal(bearer.status, 200);
  equal(bearer.headers.get("access-control-allow-origin"), "https://app.example");
  equal(bearer.headers.get("cache-control"), "private", "an answer to a key is the key holder's");
  const emptyHeader = await guarded.request("/v1/model", {
    headers: { "x-api-key": "", authorization: "Bearer s3cret" },
  });
  equal(emptyHeader.status, 200, "an empty X-API-Key does not hide the Bearer key");
  const preflight = await guarded.request("/v1/swap", {
    method: "OPTIONS",
    headers: { origin: "https://app.example", "access-control-request-method": "POST" },
  });
  equal(preflight.headers.get("access-control-allow-methods"), "GET,HEAD,POST");
  match(bearer.headers.get("access-control-expose-headers") ?? "", /Server-Timing/);
  equal((await guarded.request("/healthz")).status, 200, "probes need no key");
  const picture = await guarded.request("/v1/images/3.png", { headers: { "x-api-key": "s3cret" } });
  equal(picture.status, 200);
  match(picture.headers.get("cache-control")!, /^private, /, "no shared cache serves it keyless");
  match((await app.request("/v1/images/3.png")).headers.get("cache-control")!, /^public, /);
  const other = await guarded.request("/healthz", { headers: { origin: "https://evil.example" } });
  equal(other.headers.get("access-control-allow-origin"), null);
  equal(
    (await app.request("/healthz", { headers: { origin: "https://a.example" } })).headers.get(
      "access-control-allow-origin",
    ),
    null,
    "no CORS unless configured",
  );
});

Deno.test("no answer is sniffed; the HTML pages may not be framed and load only this server's files", async () => {
  for (const path of ["/v1/images/3.png", "/v1/images/x.png", "/healthz", "/", "/docs"]) {
    const response = await app.request(path);
    equal(response.headers.get("x-content-type-options"), "nosniff", path);
    const html = response.headers.get("content-type")!.startsWith("text/html");
    equal(html, path === "/" || path === "/docs", path);
    const policy = response.headers.get("content-security-policy");
    if (html) {
      match(policy!, /default-src 'self'/);
      match(policy!, /frame-ancestors 'none'/);
      equal(response.headers.get("referrer-policy"), "no-referrer");
    } else equal(policy, null, path);
    await response.body?.cancel();
  }
});

Deno.test("a full queue and the time limit answer 503 problems with Retry-After", async () => {
  const small = await ServedModel.load(DEFAULT_MODEL, {
    threads: 1,
    maxBatch: 16,
    maxQueuedRows: 1,
  });
  try {
    const busy = appWith({}, small);
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, k) => busy.request(`/v1/images/${100 + k}.png`)),
    );
    const statuses = responses.map((r) => r.status);
    ok(statuses.includes(503) && statuses.includes(200), statuses.join());
    const refused = responses.find((r) => r.status === 503)!;
    equal(refused.headers.get("retry-after"), "1");
    match((await refused.json()).type, /problem-unavailable/);
    for (const r of responses) if (!r.bodyUsed) await r.body?.cancel();

    // A model whose every run takes 200 ms, as on a slow machine: a 50 ms limit cuts the request.
    const slow = ServedModel.fromRunner(
      manifest,
      async (kind, input, rows) => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        return kind === "head" ? small.maps(input, rows) : small.images(input, rows);
      },
      () => Promise.resolve(),
      { maxBatch: 16, maxQueuedRows: 16 },
    );
    const hasty = appWith({ timeoutMs: 50 }, slow);
    const started = performance.now();
    const late = await hasty.request("/v1/images/3.png");
    const waited = performance.now() - started;
    equal(late.status, 503);
    equal(late.headers.get("retry-after"), "1");
    const problem = await late.json();
    match(problem.type, /problem-timeout/);
    match(problem.detail, /within 50 ms/);
    ok(waited < 190, `answered at the limit, after ${waited.toFixed(0)} ms, not after the run`);
  } finally {
    await small.release();
  }
});

Deno.test("/openapi.json is generated from the validating schemas; /docs, /healthz and /readyz answer", async () => {
  const document = await (await app.request("/openapi.json")).json();
  equal(document.openapi, "3.1.0");
  const image = document.paths["/v1/images/{seed}.png"].get;
  const seed = image.parameters.find((p: { name: string }) => p.name === "seed");
  equal(seed.in, "path");
  match(seed.description, /0\.\.4294967295/);
  const size = image.parameters.find((p: { name: string }) => p.name === "size");
  equal(size.required, false);
  const body = document.paths["/v1/generate"].post.requestBody.content["application/json"].schema;
  equal(body.properties.seeds.maxItems, 16);
  equal(body.properties.latents.items.minItems, manifest.latent);
  equal(body.additionalProperties, false);
  deepEqual(
    Object.keys(document.paths["/v1/generate"].post.responses["200"].content),
    ["application/json", "image/png"],
    "one seed answers a PNG",
  );
  const statuses = (document: { paths: Record<string, { post: { responses: object } }> }) =>
    Object.keys(document.paths["/v1/generate"].post.responses).sort();
  deepEqual(statuses(document), ["200", "400", "406", "408", "413", "415", "422", "503"]);
  const keyed = await (await appWith({ apiKey: "k" }).request("/openapi.json")).json();
  deepEqual(statuses(keyed), ["200", "400", "401", "406", "408", "413", "415", "422", "503"]);
  // Typed clients: numbers in the URL are numbers, problems and health answers have schemas,
  // the headers a client acts on are named.
  deepEqual(seed.schema, { type: "integer", minimum: 0, maximum: 4294967295 });
  deepEqual(size.schema, { type: "integer", minimum: 16, maximum: 512 });
  const truncation = image.parameters.find((p: { name: string }) => p.name === "truncation");
  deepEqual(truncation.schema, { type: "number", exclusiveMinimum: 0, maximum: 1 });
  deepEqual(document.components.schemas.Problem.required, [
    "type",
    "title",
    "status",
    "detail",
    "instance",
  ]);
  const problem = image.responses["400"].content["application/problem+json"];
  deepEqual(problem.schema, { $ref: "#/components/schemas/Problem" });
  deepEqual(Object.keys(image.responses["200"].headers), [
    "ETag",
    "Cache-Control",
    "Server-Timing",
  ]);
  deepEqual(Object.keys(image.responses["304"].headers), ["ETag", "Cache-Control"]);
  deepEqual(Object.keys(image.responses["503"].headers), ["Retry-After"]);
  deepEqual(Object.keys(keyed.paths["/v1/model"].get.responses["401"].headers), [
    "WWW-Authenticate",
  ]);
  ok(document.paths["/v1/model"].get.responses["400"], "an unknown parameter is a 400 there too");
  equal(document.paths["/v1/model"].get.responses["200"].headers, undefined, "it draws nothing");
  deepEqual(Object.keys(keyed.paths["/v1/model"].get.responses["200"].headers), ["Cache-Control"]);
  deepEqual(Object.keys(document.paths["/v1/generate"].post.responses["200"].headers), [
    "Server-Timing",
  ]);
  const health = document.paths["/healthz"].get.responses["200"].content["application/json"];
  deepEqual(health.schema.properties.status, { type: "string", const: "ok" });
  const ready = document.paths["/readyz"].get.responses["503"].content["application/json"];
  deepEqual(ready.schema.properties.status.enum, ["ready", "overloaded"]);
  equal(document.paths["/readyz"].get.responses["503"].headers, undefined, "no Retry-After");
  // What client generators need: a unique name for each operation, the server, and how the key
  // goes (only behind a key, and not for the health checks).
  type Operation = { operationId: string; security?: unknown[]; responses: object };
  const operations = (document: { paths: Record<string, Record<string, Operation>> }) =>
    Object.entries(document.paths).flatMap(([path, ops]) =>
      Object.values(ops).map((op) => ({ path, ...op }))
    );
  const ids = operations(document).map((op) => op.operationId);
  equal(new Set(ids).size, ids.length, ids.join());
  ok(ids.every((id) => /^[a-z][A-Za-z]+$/.test(id)), ids.join());
  deepEqual(document.servers, [{ url: "/" }]);
  deepEqual(document.security, [], "no key: nothing to send");
  for (const op of operations(keyed)) {
    deepEqual(
      op.security,
      op.path.startsWith("/v1/") ? [{ bearer: [] }, { apiKeyHeader: [] }] : [],
      op.path,
    );
    ok(Object.keys(op.responses).some((status) => status.startsWith("4")), op.path);
  }
  deepEqual(Object.keys(keyed.components.securitySchemes), ["bearer", "apiKeyHeader"]);
  for (
    const path of [
      "/v1/swap",
      "/v1/swap/{target}/{source}.png",
      "/v1/images/{seed}/kernels/{kernel}.png",
      "/v1/model",
    ]
  ) {
    ok(document.paths[path], `${path} is documented`);
  }
  const docs = await app.request("/docs");
  match(await docs.text(), /GET \/v1\/images\/\{seed\}\.png.*id="problem-invalid-request"/s);
  deepEqual(await (await app.request("/healthz")).json(), { status: "ok" });
  equal((await (await app.request("/readyz")).json()).status, "ready");
});

Deno.test("a real server on a loopback port serves concurrent requests, and HEAD", async () => {
  const controller = new AbortController();
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    signal: controller.signal,
    onListen: () => {},
  }, app.fetch);
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, k) => fetch(`${base}/v1/images/${k}.png`)),
    );
    const images = await Promise.all(responses.map((r) => png(r)));
    equal(new Set(images.map((i) => i.data.join())).size, 8, "eight different images");
    const problem = await fetch(`${base}/v1/images/x.png`);
    equal(problem.status, 400);
    equal(problem.headers.get("content-type"), "application/problem+json");
    await problem.body?.cancel();
    // HEAD tells the length its GET's body has (a picture, JSON, a page, a problem).
    for (const path of ["/v1/images/7.png", "/v1/model", "/docs", "/", "/v1/images/x.png"]) {
      const [head, get] = [
        await fetch(`${base}${path}`, { method: "HEAD" }),
        await fetch(`${base}${path}`),
      ];
      const length = (await get.arrayBuffer()).byteLength;
      ok(length > 0, path);
      deepEqual([head.status, head.headers.get("content-length")], [get.status, String(length)]);
    }
    // A path with dot segments as sent (fetch would normalise it): no route, so a 404, not a 405.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(
      new TextEncoder().encode("GET /v1/./model HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    const answer = new TextDecoder().decode(
      (await new Response(conn.readable).arrayBuffer()) as ArrayBuffer,
    );
    match(answer, /^HTTP\/1\.1 404/);
    match(answer, /there is no \/v1\/\.\/model/);
  } finally {
    controller.abort();
    await server.finished;
  }
});

/** Sends a POST whose Content-Length promises 100 bytes and delivers 9; `close` hangs up after. */
async function partialPost(port: number, close: boolean): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const head = "POST /v1/swap HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
    'Content-Length: 100\r\nConnection: close\r\n\r\n{"target"';
  await conn.write(new TextEncoder().encode(head));
  if (close) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    conn.close();
    return "";
  }
  // The answer, read until its JSON body is complete (the server may keep the connection open).
  let text = "";
  const buffer = new Uint8Array(4096);
  while (!/\r\n\r\n\{.*\}$/s.test(text)) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  conn.close();
  return text;
}

Deno.test("an incomplete body at the time limit is a 408; a client gone mid-body is one log line", async () => {
  const controller = new AbortController();
  const logged: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => logged.push(args.map(String).join(" "));
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    signal: controller.signal,
    onListen: () => {},
  }, appWith({ timeoutMs: 300 }).fetch);
  try {
    const answer = await partialPost(server.addr.port, false);
    match(answer, /^HTTP\/1\.1 408/);
    match(answer, /application\/problem\+json/);
    match(answer, /body did not arrive within 300 ms/);
    // The server answered and closed; the handler's failed read after it is no client leaving.
    await new Promise((resolve) => setTimeout(resolve, 400));
    equal(logged.length, 0, `the 408 logs nothing: ${logged.join("\n")}`);

    await partialPost(server.addr.port, true);
    for (
      let waited = 0;
      waited < 2000 && !logged.some((l) => /client went away/.test(l));
      waited += 50
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Past the time limit too, when the handler's own failure would come.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const lines = logged;
    equal(lines.length, 1, lines.join("\n---\n"));
    match(lines[0], /^client went away: POST \/v1\/swap: /);
    ok(!lines[0].includes("\n"), "one line, no stack");
  } finally {
    console.error = consoleError;
    controller.abort();
    await server.finished;
  }
});

Deno.test("admission by work over HTTP: 503 with Retry-After at once, and /readyz says overloaded", async () => {
  const { CostModel, Renderer } = await import("../model/renderer.ts");
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  // One lane whose jobs take 400 ms once measured; the gate holds the second job until the end.
  let runs = 0;
  const renderer = new Renderer(
    [async () => {
      runs++;
      await (runs === 1 ? new Promise((r) => setTimeout(r, 400)) : gate);
      return { result: { "0": new Uint8Array([137, 80, 78, 71]) }, renderMs: 400, inferenceMs: 0 };
    }],
    new CostModel(manifest.resolution, manifest.target.channels),
    { timeoutMs: 550, maxQueuedImages: 100 },
  );
  const busy = createApp({ model, renderer, config: { ...DEFAULT_SERVER_CONFIG, timeoutMs: 550 } });
  equal((await busy.request("/v1/images/1.png")).status, 200); // measures the job's cost
  const held = busy.request("/v1/images/2.png"); // ~400 ms of work waiting, under the limit
  await new Promise((resolve) => setTimeout(resolve, 20));
  const refused = await busy.request("/v1/images/3.png"); // 400 waiting + 400 > 550
  equal(refused.status, 503);
  equal(refused.headers.get("retry-after"), "1");
  const problem = await refused.json();
  match(problem.type, /problem-unavailable/);
  match(problem.detail, /work waiting/);
  // Even one work unit (200 ms: the image is 2 units) would wait past the limit: overloaded.
  const ready = await busy.request("/readyz");
  equal(ready.status, 503);
  const body = await ready.json();
  equal(body.status, "overloaded");
  equal(body.load.jobs, 1);
  ok(body.load.expectedWaitMs > 0);
  release();
  await (await held).body?.cancel();
});

Deno.test("a job lost to a render worker's crash is a 503 to send again, not an internal error", async () => {
  const { CostModel, Renderer } = await import("../model/renderer.ts");
  const { WorkerStoppedError } = await import("../model/worker_pool.ts");
  const renderer = new Renderer(
    [() => Promise.reject(new WorkerStoppedError("render worker 0 stopped: out of memory"))],
    new CostModel(manifest.resolution, manifest.target.channels),
    { timeoutMs: 5000, maxQueuedImages: 100 },
  );
  const app = createApp({ model, renderer, config: DEFAULT_SERVER_CONFIG });
  const logged: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void logged.push(args.join(" "));
  try {
    const response = await app.request("/v1/images/1.png");
    equal(response.status, 503);
    equal(response.headers.get("retry-after"), "1");
    match((await response.json()).detail, /stopped and is being started again; send the request/);
    equal(logged.length, 0, "the pool logs the crash once; the request adds no stack");
  } finally {
    console.error = consoleError;
  }
});
