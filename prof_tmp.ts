import { ServedModel } from "./model/model.ts";
import { createApp } from "./routes/app.ts";
import { DEFAULT_MODEL, DEFAULT_SERVER_CONFIG } from "./routes/config.ts";
import { latentForSeed, stackLatents } from "./model/latents.ts";
import { swapPictures } from "./routes/swap.ts";
const model = await ServedModel.load(DEFAULT_MODEL, {
  threads: 1,
  maxBatch: 16,
  maxQueuedRows: 100,
});
const app = createApp({ model, config: DEFAULT_SERVER_CONFIG });
const time = async (name: string, fn: (k: number) => Promise<unknown> | unknown, n = 300) => {
  for (let k = 0; k < 50; k++) await fn(k);
  const t0 = performance.now();
  for (let k = 0; k < n; k++) await fn(k);
  console.log(name, ((performance.now() - t0) / n).toFixed(3), "ms");
};
const groups = model.resolveConcepts(["0", "1", "2"]);
await time("raw head2 tail1", async (k) => {
  const m = await model.maps(
    stackLatents([latentForSeed(k, 128), latentForSeed(k + 1000, 128)], 128),
    2,
  );
  await model.images(m.subarray(0, m.length / 2), 1);
});
await time(
  "swapPictures",
  async (k) =>
    await swapPictures(
      model,
      { target: k, source: k + 1000, groups, size: 64, extras: new Set() },
      new AbortController().signal,
    ),
);
await time("app swap", async (k) => {
  const r = await app.request(`/v1/swap/${k}/${k + 1000}.png?concepts=0,1,2`);
  await r.arrayBuffer();
});
await time("raw head1 tail1", async (k) => {
  const m = await model.maps(latentForSeed(k, 128), 1);
  await model.images(m, 1);
});
await time("raw head2", async (k) => {
  await model.maps(stackLatents([latentForSeed(k, 128), latentForSeed(k + 1000, 128)], 128), 2);
});
await time("raw head1", async (k) => {
  await model.maps(latentForSeed(k, 128), 1);
});
const r0 = await app.request(`/v1/swap/1/1000.png?concepts=0,1,2`);
const et = r0.headers.get("etag")!;
await time("app swap 304", async () => {
  const r = await app.request(`/v1/swap/1/1000.png?concepts=0,1,2`, {
    headers: { "if-none-match": et },
  });
  await r.arrayBuffer();
}, 1000);
await time("app image 304", async () => {
  const r = await app.request(`/v1/images/1.png`, { headers: { "if-none-match": et } });
  await r.arrayBuffer();
}, 300);
import { encodePng } from "./training/data/image.ts";
const pics = await swapPictures(model, {
  target: 1,
  source: 1000,
  groups,
  size: 64,
  extras: new Set(),
}, new AbortController().signal);
await time("png swapped", () => encodePng(pics.swapped), 1000);
import { pngResponse } from "./routes/pipeline.ts";
await time("swapPictures+png+response", async (k) => {
  const p = await swapPictures(model, {
    target: k,
    source: k + 1000,
    groups,
    size: 64,
    extras: new Set(),
  }, AbortSignal.any([new AbortController().signal, AbortSignal.timeout(10000)]));
  const r = pngResponse(p.swapped);
  await r.arrayBuffer();
});
await time("app swap again", async (k) => {
  const r = await app.request(`/v1/swap/${k}/${k + 1000}.png?concepts=0,1,2`);
  await r.arrayBuffer();
});
await time("swapPictures+png+response again", async (k) => {
  const p = await swapPictures(model, {
    target: k,
    source: k + 1000,
    groups,
    size: 64,
    extras: new Set(),
  }, AbortSignal.any([new AbortController().signal, AbortSignal.timeout(10000)]));
  const r = pngResponse(p.swapped);
  await r.arrayBuffer();
});
const app2 = createApp({ model, config: { ...DEFAULT_SERVER_CONFIG, timeoutMs: 200 } });
await time("app2 swap (200ms limit)", async (k) => {
  const r = await app2.request(`/v1/swap/${k}/${k + 1000}.png?concepts=0,1,2`);
  await r.arrayBuffer();
});
await time("app swap (10s limit)", async (k) => {
  const r = await app.request(`/v1/swap/${k}/${k + 1000}.png?concepts=0,1,2`);
  await r.arrayBuffer();
});
await time("swapPictures+png again", async (k) => {
  const p = await swapPictures(model, {
    target: k,
    source: k + 1000,
    groups,
    size: 64,
    extras: new Set(),
  }, new AbortController().signal);
  const r = pngResponse(p.swapped);
  await r.arrayBuffer();
}, 600);
await time("app swap final", async (k) => {
  const r = await app.request(`/v1/swap/${k}/${k + 1000}.png?concepts=0,1,2`);
  await r.arrayBuffer();
}, 600);
await time("app image final", async (k) => {
  const r = await app.request(`/v1/images/${k}.png`);
  await r.arrayBuffer();
}, 600);
await time("raw head1 tail1 final", async (k) => {
  const m = await model.maps(latentForSeed(k, 128), 1);
  await model.images(m, 1);
}, 600);
