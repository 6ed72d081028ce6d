/**
 * Photos over HTTP: `POST /v1/encode` (raw and multipart bodies) and photos
 * as swap sources, on the default bundle with a stand-in encoder of known
 * output (every photo encodes to seed 7's latent), so that answers can be
 * checked exactly; every bad photo is a 4xx problem; without an encoder, 501.
 */

import { deepEqual, equal, match, notDeepEqual } from "node:assert/strict";
import jpeg from "jpeg-js";
import { encodePng } from "../core/image.ts";
import { DEFAULT_MODEL, readBundle } from "../model/bundle.ts";
import { latentForSeed } from "../model/latents.ts";
import type { Manifest } from "../model/manifest.ts";
import { ServedModel } from "../model/model.ts";
import { GeneratorSessions } from "../model/sessions.ts";
import { createApp } from "./app.ts";
import { DEFAULT_SERVER_CONFIG, type ServerConfig } from "./config.ts";
import { pngBase64Of } from "./respond.ts";

const bundle = await readBundle(DEFAULT_MODEL);
const sessions = await GeneratorSessions.open(bundle);
const Z = bundle.manifest.latent;
// The default bundle's generator alone: its encoder, gradients and energy model are stood in for
// or left out, so that each test knows what the model can do.
const { encoder: _encoder, headVjp: _h, tailVjp: _t, energy: _e, ...generatorFiles } =
  bundle.manifest.files;
const generatorOnly: Manifest = {
  ...bundle.manifest,
  encoder: null,
  energy: null,
  files: generatorFiles,
};
const withEncoder: Manifest = {
  ...generatorOnly,
  encoder: { run: "stand-in", steps: 0, width: 1, holdout: null },
  files: { ...generatorFiles, encoder: { path: "encoder.onnx", sha256: "0".repeat(64) } },
};
const schedule = { maxBatch: 16, maxQueuedRows: 256 };
const encoding = ServedModel.fromRunner(
  withEncoder,
  (kind, input, rows) => {
    if (kind === "head") return sessions.head(input, rows);
    if (kind === "tail") return sessions.tail(input, rows);
    const out = new Float32Array(rows * Z);
    for (let r = 0; r < rows; r++) out.set(latentForSeed(7, Z, 1), r * Z);
    return Promise.resolve(out);
  },
  () => Promise.resolve(),
  schedule,
);
/** A model of `manifest` that runs the default bundle's generator alone. */
function generatorModel(manifest: Manifest): ServedModel {
  return ServedModel.fromRunner(
    manifest,
    (kind, input, rows) =>
      kind === "head" ? sessions.head(input, rows) : sessions.tail(input, rows),
    () => Promise.resolve(),
    schedule,
  );
}
const plain = generatorModel(generatorOnly);

function appOf(model: ServedModel, config: Partial<ServerConfig> = {}) {
  return createApp({ model, config: { ...DEFAULT_SERVER_CONFIG, ...config } });
}
const app = appOf(encoding);

/** A 100 x 80 JPEG of a colour ramp. */
const photo = Uint8Array.from(
  jpeg.encode({
    width: 100,
    height: 80,
    data: Uint8Array.from({ length: 100 * 80 * 4 }, (_, k) => (k * 7) % 256),
  }, 90).data,
);

function upload(body: Uint8Array | string, type: string, target = app, path = "/v1/encode") {
  return target.request(path, {
    method: "POST",
    headers: { "content-type": type },
    body: typeof body === "string" ? body : Uint8Array.from(body),
  });
}

async function problem(response: Response, status: number, pattern: RegExp): Promise<void> {
  const text = await response.text();
  equal(response.status, status, text);
  equal(response.headers.get("content-type"), "application/problem+json");
  match(JSON.parse(text).detail, pattern);
}

Deno.test("POST /v1/encode answers the photo's latent and the generator's image of it", async (t) => {
  const seven = new Uint8Array(await (await app.request("/v1/images/7.png")).arrayBuffer());
  const check = async (response: Response) => {
    const text = await response.text();
    equal(response.status, 200, text);
    const answer = JSON.parse(text);
    deepEqual(answer.latent, Array.from(latentForSeed(7, Z, 1)));
    equal(answer.reconstruction, pngBase64Of(seven));
    const input = Uint8Array.fromBase64(answer.input);
    equal(input[1], 0x50, "the input is a PNG");
  };
  await t.step("a raw JPEG body", async () => await check(await upload(photo, "image/jpeg")));
  await t.step(
    "a raw body without a content type, as fetch sends a File of no known type",
    async () =>
      await check(
        await app.request("/v1/encode", { method: "POST", body: Uint8Array.from(photo) }),
      ),
  );
  await t.step("a raw JPEG body under another name software gives it", async () => {
    for (const type of ["image/jpg", "image/pjpeg", "application/octet-stream"]) {
      await check(await upload(photo, type));
    }
  });
  await t.step("a raw PNG body", async () => {
    const png = encodePng({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(90) });
    await check(await upload(png, "image/png"));
  });
  await t.step("a multipart form's image file", async () => {
    const form = new FormData();
    form.append("image", new Blob([photo], { type: "image/jpeg" }), "face.jpg");
    await check(await app.request("/v1/encode", { method: "POST", body: form }));
  });
});

Deno.test("a photo is a swap source like a seed: {image} equals the seed it encodes to", async () => {
  const swap = async (source: unknown) => {
    const response = await app.request("/v1/swap", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ target: 3, source, concepts: ["face"] }),
    });
    const text = await response.text();
    equal(response.status, 200, text);
    return JSON.parse(text).swapped;
  };
  const seven = await swap(7);
  equal(await swap({ image: pngBase64Of(photo) }), seven);
  // As a data URL, and wrapped at 76 characters as `base64` writes it: the same photo.
  equal(await swap({ image: `data:image/png;base64,${pngBase64Of(photo)}` }), seven);
  equal(await swap({ image: pngBase64Of(photo).replace(/.{76}/g, "$&\n") }), seven);
  // A file of no known type, the URL-safe alphabet, no padding: the same photo.
  equal(await swap({ image: `data:application/octet-stream;base64,${pngBase64Of(photo)}` }), seven);
  // Any media type, with parameters or none, in any case (RFC 2397).
  equal(await swap({ image: `DATA:IMAGE/PNG;NAME=FACE.PNG;BASE64,${pngBase64Of(photo)}` }), seven);
  equal(await swap({ image: `data:;base64,${pngBase64Of(photo)}` }), seven);
  const urlSafe = pngBase64Of(photo).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  equal(await swap({ image: urlSafe }), seven);
  const response = await app.request("/v1/swap", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ target: 3, source: { image: "not base64!" }, concepts: ["face"] }),
  });
  equal(response.status, 400);
  match(JSON.stringify(await response.json()), /JPEG or PNG file in base64/);
});

Deno.test("POST /v1/maps draws a photo's or a latent's maps as the GET routes draw a seed's", async () => {
  const bytes = async (response: Response) => {
    equal(response.status, 200, await response.clone().text());
    return new Uint8Array(await response.arrayBuffer());
  };
  const post = (body: unknown) =>
    app.request("/v1/maps", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  deepEqual(
    await bytes(await post({ image: { image: pngBase64Of(photo) }, view: "concepts" })),
    await bytes(await app.request("/v1/images/7/concepts.png")),
  );
  deepEqual(
    await bytes(
      await post({
        image: { latent: Array.from(latentForSeed(4, Z, 1)) },
        view: "kernel",
        kernel: 3,
        style: "overlay",
      }),
    ),
    await bytes(await app.request("/v1/images/4/kernels/3.png?style=overlay")),
  );
  for (
    const [body, field] of [
      [{ image: 1, view: "kernel" }, "body.kernel"],
      [{ image: 1, view: "concepts", style: "contour" }, "body.style"],
      [{ image: 1, view: "group", group: "nonexistent" }, "body.group"],
    ] as const
  ) {
    const response = await post(body);
    equal(response.status, 400);
    equal((await response.json()).errors[0].field, field);
  }
});

Deno.test("bad photos answer 4xx problems, before decoding where the header tells", async (t) => {
  await t.step("not an image", async () => {
    await problem(await upload("hello", "image/png"), 400, /not a readable JPEG or PNG/);
  });
  await t.step("a header that claims too many pixels (a decompression bomb)", async () => {
    const header = encodePng({ width: 1, height: 1, data: new Uint8Array(3) });
    new DataView(header.buffer).setUint32(16, 30000);
    new DataView(header.buffer).setUint32(20, 30000);
    await problem(await upload(header, "image/png"), 413, /900000000 pixels; at most 4194304/);
  });
  await t.step("a JPEG cut off after its header", async () => {
    const response = await upload(photo.subarray(0, 700), "image/jpeg");
    await problem(response.clone(), 400, /body: cannot be decoded: the JPEG file is truncated/);
    deepEqual((await response.json()).errors.map((e: { field: string }) => e.field), ["body"]);
  });
  await t.step("a JSON photo cut off after its header: the problem names its field", async () => {
    const json = (path: string, body: unknown) =>
      app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const [whole, cut] = [photo, photo.subarray(0, 700)].map((bytes) => ({
      image: pngBase64Of(bytes),
      fit: 0,
    }));
    for (
      const [path, body, field] of [
        ["/v1/swap", { target: whole, source: cut, concepts: ["face"] }, "body.source.image"],
        ["/v1/swap", { target: cut, source: whole, concepts: ["face"] }, "body.target.image"],
        ["/v1/maps", { image: cut, view: "concepts" }, "body.image.image"],
      ] as const
    ) {
      const response = await json(path, body);
      equal(response.status, 400, await response.clone().text());
      const [error] = (await response.json()).errors;
      equal(error.field, field);
      match(error.message, /^cannot be decoded: /);
    }
  });
  await t.step("another media type, and a form without its file", async () => {
    await problem(await upload(photo, "text/plain"), 415, /image\/jpeg or image\/png/);
    const post = (fields: [string, Blob | string][]) => {
      const form = new FormData();
      for (const [name, value] of fields) form.append(name, value);
      return app.request("/v1/encode", { method: "POST", body: form });
    };
    await problem(
      await post([["picture", new Blob([photo])]]),
      400,
      /body\.picture: is not a field/,
    );
    await problem(await post([["image", new Blob([photo])], ["fit", "3"]]), 400, /\?fit=3/);
    await problem(
      await post([["image", new Blob([photo])], ["image", new Blob([photo])]]),
      400,
      /body\.image: is given 2 times/,
    );
    await problem(await post([["image", "text"]]), 400, /body\.image: arrived as text, not a file/);
    await problem(await post([]), 400, /body\.image: is missing/);
  });
  await t.step("a body over the limit", async () => {
    await problem(
      await upload(photo, "image/jpeg", appOf(encoding, { maxBodyBytes: 1024 })),
      413,
      /over the limit of 1024 bytes/,
    );
  });
  await t.step("a photo field that is not base64, or not an image", async () => {
    // The photo's own field and what is wrong with it, not the seed alternative's "expected number".
    for (
      const [image, why] of [
        ["***", /base64/i],
        [btoa("hello"), /not a JPEG or PNG/],
        ["", /not a JPEG or PNG/],
      ] as const
    ) {
      const response = await app.request("/v1/swap", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ target: 3, source: { image }, concepts: ["face"] }),
      });
      equal(response.status, 400, await response.clone().text());
      const [error] = (await response.json()).errors;
      equal(error.field, "body.source.image");
      match(error.message, why);
    }
  });
});

Deno.test("refine or fit without the model's gradient files is a 501; out of range a 400", async (t) => {
  await t.step("on POST /v1/encode", async () => {
    for (const query of ["refine=5", "fit=5"]) {
      await problem(
        await upload(photo, "image/jpeg", app, `/v1/encode?${query}`),
        501,
        /no gradient files/,
      );
    }
    await problem(await upload(photo, "image/jpeg", app, "/v1/encode?refine=201"), 400, /refine/);
    await problem(await upload(photo, "image/jpeg", app, "/v1/encode?fit=201"), 400, /fit/);
  });
  const swap = (source: unknown, extra: Record<string, unknown> = {}) =>
    app.request("/v1/swap", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ target: 3, source, concepts: ["face"], ...extra }),
    });
  await t.step("on a photo in a swap", async () => {
    await problem(await swap({ image: pngBase64Of(photo), fit: 5 }), 501, /no gradient files/);
    const response = await swap({ image: pngBase64Of(photo), fit: 201 });
    equal(response.status, 400);
    const answer = await response.json();
    equal(answer.errors[0].field, "body.source.fit", "the photo's own field, not the union's");
    match(answer.errors[0].message, /200/);
  });
  await t.step("a fit where Langevin dynamics moves latents is a 400 naming it", async () => {
    const response = await swap({ image: pngBase64Of(photo), fit: 2 }, { refine: { steps: 1 } });
    equal(response.status, 400);
    const answer = await response.json();
    equal(answer.errors[0].field, "body.source.fit");
    match(answer.errors[0].message, /Langevin/);
    const refine = await app.request("/v1/refine", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ image: { image: pngBase64Of(photo), fit: 2 } }),
    });
    equal(refine.status, 400);
    equal((await refine.json()).errors[0].field, "body.image.fit");
  });
});

Deno.test("the swap mode defaults to the ones the model's manifest measured its swaps in", async () => {
  const faces = bundle.manifest.faces!;
  const regional = generatorModel({
    ...generatorOnly,
    faces: { ...faces, swapMode: "region", faceSwapMode: undefined },
  });
  const bytes = async (target: ReturnType<typeof appOf>, path: string) => {
    const response = await target.request(path);
    equal(response.status, 200);
    return new Uint8Array(await response.arrayBuffer());
  };
  const regionApp = appOf(regional);
  const path = "/v1/swap/3/9.png?concepts=face";
  deepEqual(await bytes(regionApp, path), await bytes(regionApp, `${path}&mode=region`));
  deepEqual(
    await bytes(appOf(plain), path),
    await bytes(appOf(plain), `${path}&mode=${faces.faceSwapMode ?? faces.swapMode}`),
  );
  notDeepEqual(await bytes(regionApp, path), await bytes(regionApp, `${path}&mode=groups`));

  // A face-swap mode of its own applies to the face alone; a part keeps the model's mode.
  const wideFace = appOf(
    generatorModel({
      ...generatorOnly,
      faces: { ...faces, swapMode: "region", faceSwapMode: "wide" },
    }),
  );
  const part = `/v1/swap/3/9.png?concepts=${bundle.manifest.face![0]}`;
  deepEqual(await bytes(wideFace, path), await bytes(wideFace, `${path}&mode=wide`));
  notDeepEqual(await bytes(wideFace, path), await bytes(wideFace, `${path}&mode=region`));
  deepEqual(await bytes(wideFace, part), await bytes(wideFace, `${part}&mode=region`));
  const swapped = async (mode?: string) => {
    const response = await wideFace.request("/v1/swap", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ target: 3, source: 9, concepts: ["face"], ...(mode ? { mode } : {}) }),
    });
    equal(response.status, 200);
    return (await response.json()).swapped;
  };
  deepEqual(await swapped(), await swapped("wide"));
});

Deno.test("a model without an encoder answers 501 for photos", async () => {
  const app = appOf(plain);
  await problem(await upload(photo, "image/jpeg", app), 501, /no encoder/);
  const response = await app.request("/v1/swap", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ target: 3, source: { image: pngBase64Of(photo) }, concepts: ["face"] }),
  });
  await problem(response, 501, /no encoder/);
  await sessions.release();
});
