/// <reference lib="dom" />
/**
 * The studio in a real browser: Debian's Chromium, headless, driven through
 * puppeteer-core. It loads `/`, swaps a concept on the server and in the
 * page, checks that the image changed, that the page's swap equals the
 * server's within a stated tolerance, that the console stays clean, and
 * saves screenshots (to `$IGAN_STUDIO_SCREENSHOTS`, a folder, when set).
 */

import { deepEqual, equal, match, notEqual, ok } from "node:assert/strict";
import { join } from "node:path";
import puppeteer, { type Browser, type HTTPRequest, type Page } from "puppeteer-core";
import { decodeImage, encodePng } from "../core/image.ts";
import { defaultSwapMode } from "../core/swap_maps.js";
import { ServedModel } from "../model/model.ts";
import { createApp } from "../routes/app.ts";
import { DEFAULT_MODEL } from "../model/bundle.ts";
import { DEFAULT_SERVER_CONFIG } from "../routes/config.ts";
import { CHROMIUM } from "../tools/setup/provision.ts";

/**
 * The page's swap and the server's may differ by this much per channel
 * (onnxruntime's wasm build in the page, the same build in Deno; WebGPU may
 * round differently): at most 2 levels of 255, and 0.1 on average.
 */
const TOLERANCE = { max: 2, mean: 0.1 };

const model = await ServedModel.load(DEFAULT_MODEL, {
  threads: 1,
  maxBatch: DEFAULT_SERVER_CONFIG.maxBatch,
  maxQueuedRows: DEFAULT_SERVER_CONFIG.maxQueuedImages,
});

/**
 * A test of the studio: served on a loopback port with `config`, in a
 * browser, for `body` (which gets the page, the server's origin and the
 * console's errors); both closed after. The browser's handles outlive the
 * test's sanitizers, which are off.
 */
function studioTest(
  name: string,
  config: Partial<typeof DEFAULT_SERVER_CONFIG>,
  body: (page: Page, origin: string, errors: string[]) => Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => withStudio(config, body),
  });
}

/** Serves the studio on a loopback port for `body`, with a browser; closes both. */
async function withStudio(
  config: Partial<typeof DEFAULT_SERVER_CONFIG>,
  body: (page: Page, origin: string, errors: string[]) => Promise<void>,
): Promise<void> {
  const app = createApp({ model, config: { ...DEFAULT_SERVER_CONFIG, ...config } });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  let browser: Browser | undefined;
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 1000 });
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    await body(page, `http://127.0.0.1:${server.addr.port}`, errors);
  } finally {
    await browser?.close();
    await server.shutdown();
  }
}

async function screenshot(page: Page, name: string): Promise<void> {
  const folder = Deno.env.get("IGAN_STUDIO_SCREENSHOTS") ?? await Deno.makeTempDir();
  const file = join(folder, name);
  await page.screenshot({ path: file as `${string}.png` }); // the window, as a person sees it
  ok((await Deno.stat(file)).size > 1000, `${file} is a picture`);
}

/** RGB bytes of the swap result's figure `index` (0 before, 1 after), read in the page. */
function resultPixels(page: Page, index: number): Promise<number[]> {
  return page.evaluate((k) => {
    const picture = document.querySelectorAll("#swap-result figure")[k].firstElementChild as
      | HTMLImageElement
      | HTMLCanvasElement;
    const side = picture instanceof HTMLImageElement ? picture.naturalWidth : picture.width;
    const canvas = document.createElement("canvas");
    [canvas.width, canvas.height] = [side, side];
    const context = canvas.getContext("2d")!;
    context.drawImage(picture, 0, 0);
    const rgba = context.getImageData(0, 0, side, side).data;
    return Array.from(rgba).filter((_, i) => i % 4 !== 3);
  }, index) as Promise<number[]>;
}

/**
 * Waits until no work is under way (work starts by marking the status line
 * busy); the status line's text then, and whether it says what failed.
 */
async function settled(page: Page): Promise<{ text: string; failed: boolean }> {
  await page.waitForFunction(() => document.getElementById("status")!.className !== "busy", {
    timeout: 60_000,
  });
  return await page.$eval("#status", (e) => ({
    text: e.textContent ?? "",
    failed: e.className === "error",
  }));
}

/** Ticks or unticks group `id` among the swap's concepts, the single groups unfolded first. */
async function toggleSwapGroup(page: Page, id: number): Promise<void> {
  await page.$eval("#swap-groups details", (d) => ((d as HTMLDetailsElement).open = true));
  await page.click(`#swap-groups input[value="${id}"]`);
}

/** The aria-invalid and aria-describedby of the element at `selector`. */
function invalidity(page: Page, selector: string): Promise<(string | null)[]> {
  return page.$eval(
    selector,
    (e) => [e.getAttribute("aria-invalid"), e.getAttribute("aria-describedby")],
  );
}

/** The id of the element with focus ("" for one without, "BODY" for none). */
function focused(page: Page): Promise<string> {
  return page.evaluate(() =>
    document.activeElement === document.body ? "BODY" : document.activeElement?.id ?? ""
  );
}

/** Waits until no work is under way, which must have ended well; the status line's text. */
async function succeeded(page: Page, what = "the work"): Promise<string> {
  const { text, failed } = await settled(page);
  ok(!failed, `${what}: ${text}`);
  return text;
}

/** Waits until no work is under way, which must have failed; the status line's text. */
async function failed(page: Page): Promise<string> {
  const { text, failed } = await settled(page);
  ok(failed, `a failure, not: ${text}`);
  return text;
}

async function swapIn(page: Page, mode: "server" | "browser"): Promise<void> {
  await page.click(`input[name="run-mode"][value="${mode}"]`);
  await succeeded(page, `${mode}, drawing the target's concepts`);
  await page.click("#swap");
  match(await succeeded(page, `${mode}, swapping`), /^swapped: target \d+, source \d+, /);
  await page.waitForFunction(
    (m) =>
      (globalThis as unknown as { studio: { lastSwap?: { mode: string } } }).studio.lastSwap
        ?.mode === m,
    {},
    mode,
  );
}

const distance = (a: number[], b: number[]) => {
  let max = 0, sum = 0;
  a.forEach((v, i) => {
    const d = Math.abs(v - b[i]);
    max = Math.max(max, d);
    sum += d;
  });
  return { max, mean: sum / a.length };
};

studioTest(
  "the studio in Chromium: a swap on the server and in the page, the same pixels, no errors",
  {},
  async (page, origin, errors) => {
    const onnx: string[] = [];
    page.on("request", (r) => {
      if (r.url().endsWith(".onnx")) onnx.push(new URL(r.url()).pathname);
    });
    await page.goto(`${origin}/`);
    await succeeded(page, "the model and faces load");
    equal(await page.$$eval("#faces figure", (f) => f.length), 8);
    // The model card puts the face swap's target share beside two unrelated faces'.
    const identity = model.manifest.faces?.identity;
    if (identity) {
      const percent = (v: number) => `${(100 * v).toFixed(1)}%`;
      const card = await page.$eval("#model-card", (e) => e.textContent ?? "");
      ok(
        card.includes(
          `the target's ${percent(identity.swap.judgedTarget)} (two different generated ` +
            `faces: ${percent(identity.generatedJudgedSame)}`,
        ),
        card,
      );
    }
    const alts = await page.$$eval("#faces img", (images) => images.map((i) => i.alt));
    ok(alts.every((a) => /^generated face of seed \d+$/.test(a)), alts.join());
    // The largest group: a concept big enough to change the picture.
    const biggest =
      [...model.manifest.groups].sort((a, b) => b.channels.length - a.channels.length)[0];
    // The single groups are folded away, for the keyboard's sake: the part buttons come first.
    equal(
      await page.$$eval(
        "fieldset input[type=checkbox]",
        (b) => b.filter((e) => e.checkVisibility()).length,
      ),
      0,
    );
    await toggleSwapGroup(page, biggest.id);

    await swapIn(page, "server");
    const [before, after] = [await resultPixels(page, 0), await resultPixels(page, 1)];
    ok(distance(before, after).mean > 1, "the server's swap changed the image");
    // The pictures' tools: each name holds the visible text (which speech input says), and no
    // two name the same thing.
    const tools = await page.$$eval(
      ".tools button, .tools a",
      (e) => e.map((t) => ({ text: t.textContent!.trim(), name: t.getAttribute("aria-label")! })),
    );
    ok(tools.every(({ text, name }) => name.includes(text)), JSON.stringify(tools));
    const names = tools.map((t) => t.name);
    equal(new Set(names).size, names.length, names.join("; "));
    await screenshot(page, "studio.png");
    await page.click("#show-kernels");
    await succeeded(page, "the kernel maps");
    equal(
      await page.$$eval("#kernels img", (images) => images.length),
      model.manifest.target.channels,
      "every kernel's map, grouped",
    );
    // One copy and one download for all the maps (the server's grid), not a pair for each.
    deepEqual(
      await page.$$eval(
        "#kernels button, #kernels a",
        (e) => e.map((t) => t.getAttribute("aria-label")),
      ),
      ["copy URL of all kernel maps of seed 1, heat", "download all kernel maps of seed 1, heat"],
    );
    // The grid is drawn when its download is first used, not with the maps.
    equal(await page.$eval("#kernels a[download]", (a) => a.getAttribute("href")), "#");
    await page.click("#kernels a[download]");
    await succeeded(page, "all kernel maps of seed 1, heat");
    const grid = await page.$eval(
      "#kernels a[download]",
      (a) => fetch((a as HTMLAnchorElement).href).then((r) => r.blob()).then((b) => b.type),
    );
    equal(grid, "image/png", "the download is the grid's picture");

    // In the browser at once: the concept map and the swap share one load of the model.
    await page.click('input[name="run-mode"][value="browser"]');
    await page.click("#swap");
    match(await succeeded(page, "browser, swapping"), /^swapped: target 1, source 2, /);
    await page.waitForFunction(() =>
      (globalThis as unknown as { studio: { lastSwap?: { mode: string } } }).studio.lastSwap
        ?.mode === "browser"
    );
    deepEqual(onnx.sort(), ["/v1/model/head.onnx", "/v1/model/tail.onnx"]);
    const backend = await page.evaluate(() =>
      (globalThis as unknown as { studio: { backend: string } }).studio.backend
    );
    ok(backend === "wasm" || backend === "webgpu", backend);
    const inPage = await resultPixels(page, 1);
    ok(distance(before, inPage).mean > 1, "the page's swap changed the image");
    // The page starts in the mode the server gives a request without one: the server's answer
    // without a mode is the page's picture.
    const swapMode = await page.evaluate(() =>
      (globalThis as unknown as { studio: { lastSwap: { swapMode: string } } }).studio.lastSwap
        .swapMode
    );
    const { faces, face } = model.manifest;
    equal(swapMode, defaultSwapMode(faces, face, [biggest.id]));
    const served = decodeImage(
      new Uint8Array(
        await (await fetch(`${origin}/v1/swap/1/2.png?concepts=${biggest.id}`)).arrayBuffer(),
      ),
    );
    const gap = distance(inPage, Array.from(served.data));
    console.error(`page (${backend}) vs server: ${JSON.stringify(gap)}`);
    ok(gap.max <= TOLERANCE.max && gap.mean <= TOLERANCE.mean, JSON.stringify(gap));
    // The difference and the mask too: the page draws them with the server's code.
    for (const [index, view] of [[2, "difference"], [3, "mask"]] as const) {
      const path = `/v1/swap/1/2.png?concepts=${biggest.id}&view=${view}`;
      const server = decodeImage(
        new Uint8Array(await (await fetch(`${origin}${path}`)).arrayBuffer()),
      );
      const viewGap = distance(await resultPixels(page, index), Array.from(server.data));
      console.error(`page (${backend}) vs server, ${view}: ${JSON.stringify(viewGap)}`);
      ok(
        viewGap.max <= TOLERANCE.max && viewGap.mean <= TOLERANCE.mean,
        `${view}: ${JSON.stringify(viewGap)}`,
      );
    }

    // A phone-sized window: nothing wider than the screen.
    await page.setViewport({ width: 390, height: 844 });
    const overflow = await page.evaluate(() =>
      document.documentElement.scrollWidth - globalThis.innerWidth
    );
    ok(overflow <= 0, `the page is ${overflow} px wider than a phone`);
    await screenshot(page, "studio-phone.png");
    equal(errors.length, 0, errors.join("\n"));
  },
);

studioTest(
  "the studio asks for the API key, keeps it in the page, and then works from the keyboard",
  { apiKey: "studio-secret" },
  async (page, origin, errors) => {
    await page.goto(`${origin}/`);
    await page.waitForSelector("#key-form:not([hidden])");
    equal(
      await failed(page),
      "loading the model failed: this server needs an API key: enter it in the field below.",
    );
    // No target yet: no concept map is announced, and no tools act on one.
    const overlay = () =>
      page.$eval("#overlay-stack", (stack) => ({
        role: stack.getAttribute("role"),
        tools: [...document.querySelectorAll("#overlay-copy, #overlay-download")].filter((e) =>
          e.checkVisibility()
        ).length,
      }));
    deepEqual(await overlay(), { role: null, tools: 0 });
    await page.type("#api-key", "studio-secret");
    await page.click("#key-form button");
    // The form hides with focus in it: focus goes on to the seeds, not to the page's body.
    equal(await focused(page), "seeds");
    await succeeded(page);
    equal(await page.$$eval("#faces figure", (f) => f.length), 8);
    deepEqual(await overlay(), { role: "img", tools: 2 });
    // From the keyboard: focus a face's target button and press Enter.
    await page.focus('button[data-role="target"][data-seed="3"]');
    await page.keyboard.press("Enter");
    await succeeded(page);
    equal(
      await page.$eval(
        'button[data-role="target"][data-seed="3"]',
        (b) => b.getAttribute("aria-pressed"),
      ),
      "true",
    );
    equal(await page.$eval("#overlay-caption", (e) => e.textContent), "target seed 3");
    const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length]);
    equal(stored.join(), "0,0", "the key is not stored");
    // A key the server no longer takes (changed there): the swap it stopped runs once the right
    // key is entered, and the page is as it was, its concept choices once.
    await page.evaluate(() => {
      (globalThis as unknown as { studio: { state: { key: string } } }).studio.state.key = "old";
    });
    await toggleSwapGroup(page, model.manifest.groups[0].id);
    await page.click("#swap");
    equal(
      await failed(page),
      "swapping failed: that key was refused: enter the right one in the field below.",
    );
    deepEqual(await invalidity(page, "#api-key"), ["true", "status"]);
    await page.$eval("#api-key", (e) => ((e as HTMLInputElement).value = ""));
    await page.type("#api-key", "studio-secret");
    await page.click("#key-form button");
    equal(await focused(page), "swap", "focus is back on the button whose action the key let on");
    match(await succeeded(page, "the swap again"), /^swapped: target 3, source 2, /);
    deepEqual(await invalidity(page, "#api-key"), [null, null]);
    equal(
      await page.$$eval("input[type=checkbox][name]", (boxes) => boxes.length),
      2 * model.manifest.groups.length,
      "the concept choices, once",
    );
    deepEqual(
      await page.$$eval(
        "#swap-groups input:checked",
        (b) => b.map((e) => (e as HTMLInputElement).value),
      ),
      [String(model.manifest.groups[0].id)],
      "the choice kept",
    );
    // New faces stopped by a refused key are drawn once the key is entered again.
    await page.evaluate(() => {
      (globalThis as unknown as { studio: { state: { key: string } } }).studio.state.key = "old";
    });
    await page.$eval("#seeds", (e) => ((e as HTMLInputElement).value = "11, 12"));
    await page.click("#seed-form button");
    match(await failed(page), /refused.*; the faces shown stay seeds 1, /);
    await page.$eval("#api-key", (e) => ((e as HTMLInputElement).value = ""));
    await page.type("#api-key", "studio-secret");
    await page.click("#key-form button");
    await succeeded(page, "the faces again");
    equal(await page.$$eval("#faces figure", (f) => f.length), 2);
    // The 401 of the first try is a console error of the browser's own; nothing else is.
    ok(errors.every((e) => /401/.test(e)), errors.join("\n"));
  },
);

studioTest(
  "the studio: two quick redraws show the last one's faces once, the target follows; no seed is an error",
  {},
  async (page, origin, errors) => {
    await page.goto(`${origin}/`);
    await succeeded(page);
    await page.click("#random-seeds");
    await page.click("#random-seeds");
    await succeeded(page);
    const seeds = (await page.$eval("#seeds", (e) => (e as HTMLInputElement).value)).split(",");
    const captions = await page.$$eval("#faces figcaption", (c) => c.map((e) => e.textContent));
    deepEqual(captions, seeds.map((s) => `seed ${s}`), "the second set, once");
    const pressed = await page.$$eval(
      'button[aria-pressed="true"]',
      (b) => b.map((e) => `${(e as HTMLElement).dataset.role} ${(e as HTMLElement).dataset.seed}`),
    );
    deepEqual(pressed.sort(), [`source ${seeds[1]}`, `target ${seeds[0]}`]);
    equal(await page.$eval("#overlay-caption", (e) => e.textContent), `target seed ${seeds[0]}`);
    await page.$eval("#seeds", (e) => ((e as HTMLInputElement).value = " , "));
    await page.click('#seed-form button[type="submit"]');
    match(await failed(page), /drawing faces failed: enter at least one seed/);
    equal(await page.$$eval("#faces figure", (f) => f.length), 8, "the faces stay");
    // The field is marked as the cause, described by the error, until it is tried again.
    deepEqual(await invalidity(page, "#seeds"), ["true", "status"]);
    // A seed given twice is one face, whose download works.
    await page.$eval("#seeds", (e) => ((e as HTMLInputElement).value = "9,9,4"));
    await page.click('#seed-form button[type="submit"]');
    await succeeded(page);
    deepEqual(await invalidity(page, "#seeds"), [null, null]);
    deepEqual(
      await page.$$eval("#faces figcaption", (c) => c.map((e) => e.textContent)),
      ["seed 9", "seed 4"],
    );
    const downloads = await page.$$eval("#faces figure a[download]", (links) =>
      Promise.all(
        links.map((a) => fetch((a as HTMLAnchorElement).href).then((r) => r.ok, () => false)),
      ));
    deepEqual(downloads, [true, true]);
    deepEqual(errors, []);
  },
);

studioTest(
  "the studio's part choices tick a label's groups and swap as ?concepts=<label> does",
  {},
  async (page, origin, errors) => {
    await page.goto(`${origin}/`);
    await succeeded(page);
    const checked = (name: string) =>
      page.$$eval(
        `input[name="${name}"]:checked`,
        (boxes) => boxes.map((b) => Number((b as HTMLInputElement).value)),
      );
    const { groups } = model.manifest;
    // The label drawn by the most groups (the default's eyes: three).
    const labels = groups.map((g) => g.label).filter((l): l is string => !!l);
    const label =
      labels.sort((a, b) =>
        labels.filter((l) => l === b).length - labels.filter((l) => l === a).length
      )[0];
    const ids = groups.filter((g) => g.label === label).map((g) => g.id);
    const part = `button[data-choice="swap-${label}"]`;
    // Named by its text, pressed while all its groups are ticked, whatever ticked them.
    const { name, pressed } = (await page.accessibility.snapshot({ root: (await page.$(part))! }))!;
    deepEqual([name, pressed], [label, false]);
    const partPressed = () => page.$eval(part, (b) => b.getAttribute("aria-pressed"));
    await page.click(part);
    deepEqual(await checked("swap"), ids);
    equal(await partPressed(), "true");
    await toggleSwapGroup(page, ids[0]);
    equal(await partPressed(), "false", "one of its groups unticked");
    await page.click(part);
    deepEqual(await checked("swap"), ids, "a press ticks them all again");
    await page.click(part);
    deepEqual(await checked("swap"), [], "a second press unticks them");
    equal(await partPressed(), "false");
    const overlayName = () => page.$eval("#overlay-stack", (e) => e.getAttribute("aria-label"));
    equal(await overlayName(), "seed 1 with the regions of all its groups");
    await page.click('button[data-choice="overlay-none"]');
    deepEqual(await checked("overlay"), []);
    equal(await overlayName(), "seed 1 with the regions of no group");
    await page.click('button[data-choice="overlay-all"]');
    equal((await checked("overlay")).length, groups.length);

    await page.click(`button[data-choice="swap-${label}"]`);
    await swapIn(page, "server");
    const served = decodeImage(
      new Uint8Array(
        await (await fetch(`${origin}/v1/swap/1/2.png?concepts=${label}`)).arrayBuffer(),
      ),
    );
    deepEqual(await resultPixels(page, 1), Array.from(served.data));
    match(
      await page.$eval("#swap-caption", (e) => e.textContent ?? ""),
      new RegExp(
        `^target 1 with source 2's ${ids.map((id) => `${id} ${label}`).join(", ")}, mode `,
      ),
    );
    // A swap that ends while the kernel maps are still drawn leaves the line to them: their
    // pictures are held back until the swap has ended.
    const held: HTTPRequest[] = [];
    let holding = true;
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      if (holding && request.url().includes("/kernels/")) held.push(request);
      else void request.continue();
    });
    type Studio = { studio: { lastSwap: unknown }; previousSwap?: unknown };
    await page.evaluate(() => {
      const page = globalThis as unknown as Studio;
      page.previousSwap = page.studio.lastSwap;
    });
    await page.click("#show-kernels");
    await page.click("#swap");
    await page.waitForFunction(() => {
      const page = globalThis as unknown as Studio;
      return page.studio.lastSwap !== page.previousSwap;
    });
    equal(await page.$eval("#status", (e) => e.textContent), "drawing kernel maps ...");
    holding = false;
    for (const request of held) await request.continue();
    await succeeded(page);
    equal(errors.length, 0, errors.join("\n"));
  },
);

studioTest(
  "the studio encodes an uploaded photo, refined and fitted, and swaps its face into the target",
  {},
  async (page, origin, errors) => {
    // A photo from this server (a generated face, so the test needs no data set).
    const folder = await Deno.makeTempDir();
    const photo = join(folder, "face.png");
    await Deno.writeFile(
      photo,
      new Uint8Array(await (await fetch(`${origin}/v1/images/12.png?size=96`)).arrayBuffer()),
    );
    await page.goto(`${origin}/`);
    await succeeded(page, "the model and faces load");
    equal(await page.$eval("#photo-form", (f) => (f as HTMLFormElement).hidden), false);
    // Hidden, as for a model without an encoder, the form takes no room despite its flex row.
    const hiddenDisplay = await page.$eval("#photo-form", (f) => {
      (f as HTMLFormElement).hidden = true;
      const display = getComputedStyle(f).display;
      (f as HTMLFormElement).hidden = false;
      return display;
    });
    equal(hiddenDisplay, "none");
    const input = await page.$("#photo-file");
    await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(photo);
    await page.$eval("#photo-refine", (e) => ((e as HTMLInputElement).value = "2"));
    await page.$eval("#photo-fit", (e) => ((e as HTMLInputElement).value = "3"));
    await page.click("#photo-form button[type=submit]");
    await succeeded(page, "encoding");
    equal(await page.$$eval("#photo-result figure", (f) => f.length), 2);
    const encoded = await page.evaluate(() =>
      (globalThis as unknown as {
        studio: { lastPhoto: { latent: number; refine: number; fit: number } };
      }).studio.lastPhoto
    );
    equal(encoded.latent, model.manifest.latent);
    equal(encoded.refine, 2);
    equal(encoded.fit, 3);
    await page.click("#swap-face");
    await page.click("#photo-swap");
    await succeeded(page, "swapping the photo's face");
    equal(await page.$$eval("#photo-result figure", (f) => f.length), 3);
    // The swap fits the encoder's latent: the caption says the refinement is not in it. The
    // picture's own text says what it shows, not the caption again.
    const target = await page.evaluate(() =>
      (globalThis as unknown as { studio: { state: { target: number } } }).studio.state.target
    );
    equal(
      await page.$eval("#photo-result figure.photo-swap figcaption", (e) => e.textContent ?? ""),
      `swapped into target ${target} (fitted from the encoder's latent, not the refined one)`,
    );
    equal(
      await page.$eval("#photo-result figure.photo-swap img", (e) => (e as HTMLImageElement).alt),
      `target seed ${target} with your photo's face`,
    );
    // Another file, not yet encoded: nothing of the last photo stands for it.
    const other = join(folder, "other.png");
    await Deno.copyFile(photo, other);
    await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(other);
    equal(await page.$$eval("#photo-result figure", (f) => f.length), 0);
    equal(await page.$eval("#photo-swap", (b) => (b as HTMLButtonElement).disabled), true);
    // A photo over the server's body limit (random pixels: a PNG of about 480 KB), as a
    // phone's are: the page sends its centre square reduced, and it encodes and swaps.
    const big = join(folder, "big.png"), side = 400;
    const pixels = new Uint8Array(side * side * 3);
    for (let at = 0; at < pixels.length; at += 65536) {
      crypto.getRandomValues(pixels.subarray(at, at + 65536));
    }
    await Deno.writeFile(big, encodePng({ width: side, height: side, data: pixels }));
    ok((await Deno.stat(big)).size > DEFAULT_SERVER_CONFIG.maxBodyBytes);
    await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(big);
    await page.click("#photo-form button[type=submit]");
    await succeeded(page, "encoding a large photo");
    await page.click("#photo-swap");
    await succeeded(page, "swapping the large photo's face");
    equal(await page.$$eval("#photo-result figure", (f) => f.length), 3);
    // Steps that are not a number are said to be wrong, not sent as 0.
    await page.$eval("#photo-fit", (e) => ((e as HTMLInputElement).value = ""));
    await page.click("#photo-form button[type=submit]");
    match(await failed(page), /fitting steps must be a whole number from 0 to 200/);
    deepEqual(await invalidity(page, "#photo-fit"), ["true", "status"]);
    equal(errors.length, 0, errors.join("\n"));
    await Deno.remove(folder, { recursive: true });
  },
);

/** Answers `request` as the server's 503 does, with `detail` and Retry-After `seconds`. */
async function busy(request: HTTPRequest, seconds: number, detail = "the server is busy.") {
  // The page may have aborted it already, as it does a superseded request.
  await request.respond({
    status: 503,
    contentType: "application/problem+json",
    headers: { "retry-after": String(seconds) },
    body: JSON.stringify({ status: 503, detail, instance: new URL(request.url()).pathname }),
  }).catch(() => {});
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The seeds whose target and source buttons are pressed, as "role seed". */
function pressed(page: Page): Promise<string[]> {
  return page.$$eval(
    'button[aria-pressed="true"]',
    (b) => b.map((e) => `${(e as HTMLElement).dataset.role} ${(e as HTMLElement).dataset.seed}`),
  );
}

studioTest(
  "the studio tries the model again after a 503 or no answer, and offers to when it stays away",
  {},
  async (page, origin, errors) => {
    let answers: ("503" | "down")[] = ["503", "down"];
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      if (new URL(request.url()).pathname !== "/v1/model") return void request.continue();
      const answer = answers.shift();
      if (answer === "503") void busy(request, answers.length > 1 ? 0 : 1);
      else if (answer === "down") void request.abort("connectionrefused");
      else void request.continue();
    });
    await page.goto(`${origin}/`);
    equal(await page.$eval("#swap", (b) => (b as HTMLButtonElement).disabled), true, "no model");
    await succeeded(page, "the model at the third try");
    equal(await page.$$eval("#faces figure", (f) => f.length), 8);
    equal(await page.$eval("#swap", (b) => (b as HTMLButtonElement).disabled), false);

    // Never an answer: the page says so in words, what needs the model stays disabled, and a
    // button tries again.
    answers = ["503", "503", "503", "down"];
    await page.reload();
    equal(
      await failed(page),
      "loading the model failed: the server cannot be reached: check that it is running, " +
        "then try again.",
    );
    for (const control of ["#swap", "#show-kernels", "#random-seeds", "#seed-form button"]) {
      equal(await page.$eval(control, (b) => (b as HTMLButtonElement).disabled), true, control);
    }
    await page.click("#retry-model");
    await succeeded(page, "the model on trying again");
    equal(await page.$eval("#retry-model", (b) => (b as HTMLButtonElement).hidden), true);
    equal(await page.$$eval("#faces figure", (f) => f.length), 8);
    equal(
      await page.$$eval("input[type=checkbox][name]", (boxes) => boxes.length),
      2 * model.manifest.groups.length,
    );
    // The browser's own lines about the refused tries are the only console errors.
    ok(errors.every((e) => /503|ERR_CONNECTION_REFUSED/.test(e)), errors.join("\n"));
  },
);

studioTest(
  "the studio: a newer swap aborts the older, whose late failure says nothing; a 503 says when",
  {},
  async (page, origin, errors) => {
    await page.goto(`${origin}/`);
    await succeeded(page);
    await toggleSwapGroup(page, model.manifest.groups[0].id);
    let mode: "hold" | "busy" | "pass" = "hold";
    const held: HTTPRequest[] = [], aborted: string[] = [];
    page.on("requestfailed", (r) => {
      if (r.url().includes("/v1/swap/")) aborted.push(r.url());
    });
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      if (!request.url().includes("/v1/swap/") || mode === "pass") void request.continue();
      else if (mode === "hold") held.push(request);
      else {
        void busy(
          request,
          3,
          "the server has 9000 ms of work waiting per worker and this request needs about 90 " +
            "ms, over the 10000 ms limit; try again in 3 s.",
        );
      }
    });
    await page.click("#swap");
    while (held.length < 3) await delay(20);
    mode = "pass";
    await page.click("#swap");
    const done = await succeeded(page, "the newer swap");
    match(done, /^swapped: target 1, source 2, /);
    for (const request of held) await busy(request, 1);
    await delay(300);
    deepEqual(await settled(page), { text: done, failed: false }, "the older swap is silent");
    equal(aborted.length, 3, "the older swap's requests were aborted");

    mode = "busy";
    await page.click("#swap");
    equal(
      await failed(page),
      "swapping failed: the server has 9000 ms of work waiting per worker and this request " +
        "needs about 90 ms, over the 10000 ms limit; try again in 3 s.",
    );
    // No concept: the concepts' fieldset is marked as the cause, until the next swap.
    await toggleSwapGroup(page, model.manifest.groups[0].id);
    await page.click("#swap");
    match(await failed(page), /choose at least one concept/);
    deepEqual(await invalidity(page, "#swap-groups"), ["true", "status"]);
    await toggleSwapGroup(page, model.manifest.groups[0].id);
    // The target as the source: nothing would change, and the page says so.
    await page.click('button[data-role="source"][data-seed="1"]');
    await page.click("#swap");
    match(await failed(page), /seed 1 is both the target and the source: pick another source/);
    deepEqual(
      await invalidity(page, "#swap-groups"),
      [null, null],
      "the concepts were not at fault",
    );
    ok(errors.every((e) => /503/.test(e)), errors.join("\n"));
  },
);

studioTest(
  "the studio keeps the faces and their choice when new ones fail, and says what failed",
  {},
  async (page, origin, errors) => {
    await page.goto(`${origin}/`);
    await succeeded(page);
    let down = false;
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      const path = new URL(request.url()).pathname;
      if (path === "/v1/images/30.png") void busy(request, 1);
      else if (down && path.startsWith("/v1/")) void request.abort("connectionrefused");
      else void request.continue();
    });
    const shown = [1, 2, 3, 4, 5, 6, 7, 8];
    const captions = () => page.$$eval("#faces figcaption", (c) => c.map((e) => e.textContent));
    await page.$eval("#seeds", (e) => ((e as HTMLInputElement).value = "1,2,30,4"));
    await page.click('#seed-form button[type="submit"]');
    equal(
      await failed(page),
      "drawing faces failed: the server is busy. (try again in 1 s); the faces shown stay seeds " +
        `${shown.join(", ")}.`,
    );
    deepEqual(await captions(), shown.map((s) => `seed ${s}`));
    deepEqual((await pressed(page)).sort(), ["source 2", "target 1"]);
    // The server stopped: random seeds fail as a whole, in words.
    down = true;
    await page.click("#random-seeds");
    equal(
      await failed(page),
      "drawing faces failed: the server cannot be reached: check that it is running, then try " +
        `again; the faces shown stay seeds ${shown.join(", ")}.`,
    );
    deepEqual(await captions(), shown.map((s) => `seed ${s}`));
    deepEqual((await pressed(page)).sort(), ["source 2", "target 1"]);
    ok(errors.every((e) => /503|ERR_CONNECTION_REFUSED/.test(e)), errors.join("\n"));
  },
);

/** The contrast ratio of two CSS rgb() colours (WCAG 2). */
function contrast(a: string, b: string): number {
  const luminance = (color: string) => {
    const [r, g, bl] = color.match(/\d+(\.\d+)?/g)!.slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (high + 0.05) / (low + 0.05);
}

studioTest(
  "the studio's looks: focus unlike pressed, a readable dark-mode error, an empty status line " +
    "keeps its room, focus comes into view below a long error, a copied note goes",
  {},
  async (page, origin, errors) => {
    await page.goto(`${origin}/`);
    await succeeded(page);
    // Landmarks: the header, and everything else in the main one, the key's form included.
    deepEqual(
      await page.$eval("body", (b) => [...b.children].map((e) => e.tagName)),
      ["HEADER", "MAIN", "SCRIPT"],
    );
    // A phone's keyboard for the seeds has the comma they are separated by: no numeric one.
    equal(await page.$eval("#seeds", (e) => (e as HTMLInputElement).inputMode), "");
    const outline = (selector: string) =>
      page.$eval(selector, (e) => {
        const s = getComputedStyle(e);
        return `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor} ${s.outlineOffset}`;
      });
    const target = 'button[data-role="target"][data-seed="1"]';
    const source = 'button[data-role="source"][data-seed="2"]';
    await page.focus(target);
    ok(await page.$eval(target, (e) => e.matches(":focus-visible")));
    notEqual(await outline(target), await outline(source), "a focused pressed button shows it");

    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
    const [color, background] = await page.$eval("#status", (e) => {
      e.className = "error";
      e.textContent = "something failed";
      const s = getComputedStyle(e);
      return [s.color, s.backgroundColor];
    });
    const ratio = contrast(color, background);
    ok(ratio >= 4.5, `${color} on ${background}: ${ratio.toFixed(2)}:1`);
    // The page's colours are set, the dark mode's (contrast checkers read these, not the view).
    deepEqual(
      await page.$eval(
        "html",
        (e) => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color],
      ),
      await page.$eval("#status", (e) => {
        e.className = "";
        return [getComputedStyle(e).backgroundColor, getComputedStyle(e).color];
      }),
      "the status line's Canvas and CanvasText",
    );
    // Empty, the status line keeps its room: what is below does not move.
    const below = () => page.$eval("#faces-title", (e) => e.getBoundingClientRect().top);
    const withText = await below();
    await page.$eval("#status", (e) => ([e.className, e.textContent] = ["", ""]));
    equal(await below(), withText, "the empty status line");

    // A long error, on lines of its own, is over whatever scrolls under it: what gets focus
    // from the keyboard comes into view below it.
    await page.$eval("#status", (e) => {
      e.className = "error";
      e.textContent = "something failed: ".repeat(30);
    });
    await page.focus("#random-seeds");
    // The next stop scrolled to the top of the window, where the status line is.
    const next = "#faces figure .tools button";
    await page.$eval(next, (e) => scrollBy(0, e.getBoundingClientRect().top - 5));
    const statusHeight = await page.$eval("#status", (e) => e.getBoundingClientRect().height);
    ok(statusHeight > 40, `the error takes lines: ${statusHeight} px`);
    await page.keyboard.press("Tab");
    const [focusTop, statusBottom] = await page.$eval(next, (e) => [
      e.getBoundingClientRect().top,
      document.getElementById("status")!.getBoundingClientRect().bottom,
    ]);
    equal(await page.evaluate(() => document.activeElement?.textContent), "copy URL");
    ok(
      focusTop >= statusBottom,
      `focus at ${focusTop} px, under the status line down to ${statusBottom}`,
    );
    await page.$eval("#status", (e) => ([e.className, e.textContent] = ["", ""]));

    await page.evaluate(() =>
      Object.defineProperty(navigator, "clipboard", {
        value: { writeText: () => Promise.resolve() },
      })
    );
    await page.click("#faces figure .tools button");
    equal(
      await page.$eval("#status", (e) => e.textContent),
      `copied ${origin}/v1/images/1.png`,
    );
    await page.waitForFunction(() => document.getElementById("status")!.textContent === "", {
      timeout: 8000,
    });
    deepEqual(errors, []);
  },
);

studioTest(
  "/docs on a phone: laid out at its width, its schemas wrap, its contents lead to each endpoint",
  {},
  async (page, origin, errors) => {
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await page.goto(`${origin}/docs`);
    equal(await page.evaluate(() => innerWidth), 390, "the page's layout width");
    // Unfolded, no schema scrolls (a scrolling region needs a keyboard stop of its own), nor the
    // page sideways.
    const scrolling = await page.$$eval("details", (all) => {
      for (const details of all) (details as HTMLDetailsElement).open = true;
      return [...document.querySelectorAll("pre")]
        .filter((pre) => pre.scrollWidth > pre.clientWidth || pre.scrollHeight > pre.clientHeight)
        .length;
    });
    equal(scrolling, 0);
    equal(await page.evaluate(() => document.documentElement.scrollWidth), 390);
    const targets = await page.$$eval(
      "nav a",
      (links) =>
        links.map((a) => document.getElementById(a.getAttribute("href")!.slice(1))?.tagName),
    );
    ok(targets.length > 10 && targets.every((tag) => tag === "H3" || tag === "H2"), targets.join());
    deepEqual(errors, []);
  },
);
