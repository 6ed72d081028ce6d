/**
 * The studio page: faces from seeds, the target's concept map, swaps and
 * kernel maps, a photo of one's own (encoded, and its concepts swapped into
 * the target), and the model card, through the HTTP API ("server" mode) or
 * with the bundle's head.onnx and tail.onnx run by onnxruntime-web in the
 * page ("in the browser" mode, WebGPU where the browser has it, else wasm).
 * Swaps in the browser use the server's own map arithmetic (`core/swap_maps.js`).
 *
 * No external assets: everything comes from this server. An API key, when
 * the server needs one, is kept in this page's memory only.
 */

import {
  channelsCentre,
  defaultSwapMode,
  positionOwners,
  swapMaps,
  swapRegion,
} from "../core/swap_maps.js";
import { differenceMap, planarPicture, regionMask } from "../core/pictures.js";

const $ = (id) => document.getElementById(id);

const state = {
  key: null,
  manifest: null,
  seeds: [],
  target: null,
  source: null,
  runMode: "server",
  /**
   * onnxruntime-web and the two sessions, loading or loaded, from the first in-browser run: one
   * load that a swap and a concept map started together share.
   */
  runtime: null,
  latents: new Map(),
  /** The target's owner group per target-layer position (-1: none), as last loaded. */
  owners: null,
  /** Object URLs of the pictures each section shows, revoked when it shows others. */
  urls: new Map(),
  /** The uploaded photo, base64, and its fitting steps, once encoded: swaps send it again. */
  photo: null,
  /** Whether the photo was encoded with refinement steps, which swaps do not take. */
  photoRefined: false,
};

/** What the page did last, for its test and for people reading the console. */
globalThis.studio = { state, lastSwap: null, backend: null };

/**
 * The status line: `busy` while work is under way, `error` for a failure, and
 * no class for what last ended (kept, so that a screen reader hears it).
 */
function setStatus(text, kind = "") {
  const status = $("status");
  status.textContent = text;
  status.className = kind;
  // A field is described by the error about it only while the line says it.
  for (const field of document.querySelectorAll('[aria-describedby="status"]')) {
    field.removeAttribute("aria-describedby");
  }
}

/** A failure caused by what a field holds, which is marked invalid until its action runs again. */
class FieldError extends Error {
  /**
   * @param {string} field the field's id
   * @param {string} message
   */
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

/** A failed request of this server's API: its HTTP status (0: no answer) and what to do. */
class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   * @param {number | null} retryAfter the seconds a 503 asked to wait, if it said
   * @param {string | null} field the id of the field whose content was refused, if one was
   */
  constructor(message, status, retryAfter = null, field = null) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
    this.field = field;
  }
}

/**
 * A fetch of this server's API with the key; throws an {@link ApiError} with
 * the problem's detail, or an AbortError when `init.signal` aborts it.
 */
async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  if (state.key) headers.set("authorization", `Bearer ${state.key}`);
  let response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (error) {
    // fetch rejects with a TypeError when no answer comes; an abort is a DOMException.
    if (!(error instanceof TypeError)) throw error;
    throw new ApiError(
      "the server cannot be reached: check that it is running, then try again.",
      0,
    );
  }
  if (response.status === 401) throw keyNeeded();
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const header = response.headers.get("retry-after") ?? "";
    const retryAfter = response.status === 503 && /^\d+$/.test(header) ? Number(header) : null;
    const detail = problem.detail ?? response.statusText;
    // The server's own refusals say when to try again; others get it from Retry-After.
    const wait = retryAfter === null || /try again/i.test(detail)
      ? ""
      : ` (try again in ${retryAfter} s)`;
    throw new ApiError(
      `${detail}${wait}`,
      response.status,
      retryAfter,
    );
  }
  return response;
}

/** A 401's error, with the key field shown: a key sent was refused, or one is needed. */
function keyNeeded() {
  $("key-form").hidden = false;
  $("api-key").focus();
  return state.key
    ? new ApiError(
      "that key was refused: enter the right one in the field below.",
      401,
      null,
      "api-key",
    )
    : new ApiError("this server needs an API key: enter it in the field below.", 401);
}

/** The tasks under way, oldest first: the status line names the newest. */
const tasks = [];

/** The task under way of each action, which a newer run of that action aborts. */
const running = new Map();

/** The action a 401 stopped, run again once a key is entered, and the control that started it. */
let interrupted = null;

/** The field that each action's last failure was about, by section, marked invalid. */
const invalidFields = new Map();

/** How many tasks have started: a task's number orders it among them. */
let started = 0;

/** What the newest task to have ended well says, and its number. */
let lastDone = { number: 0, text: "" };

/**
 * Runs `action.work` with a signal that a newer run of the same action (its
 * `section`) aborts; an aborted run ends silently. The status line says what
 * is under way, then what the newest task said when it ended (the work's
 * return), or what failed, which it keeps until another task starts.
 *
 * @param {{ what: string, section: string, work: (signal: AbortSignal) => Promise<string> }} action
 */
async function attempt(action) {
  const control = document.activeElement;
  cancel(action.section);
  const task = {
    what: action.what,
    section: action.section,
    number: ++started,
    controller: new AbortController(),
  };
  tasks.push(task);
  running.set(action.section, task);
  setStatus(`${action.what} ...`, "busy");
  // What the last run's failure was about is tried again: invalid no longer, unless it fails so.
  invalidFields.get(action.section)?.removeAttribute("aria-invalid");
  invalidFields.delete(action.section);
  const { signal } = task.controller;
  try {
    const text = await action.work(signal);
    if (signal.aborted) return;
    end(task);
    if (task.number > lastDone.number) lastDone = { number: task.number, text };
    if ($("status").className !== "error") showTasksUnderWay(lastDone.text);
  } catch (error) {
    if (signal.aborted) return;
    end(task);
    if (error instanceof ApiError && error.status === 401) interrupted = { action, control };
    setStatus(`${action.what} failed: ${error.message}`, "error");
    if (error.field) {
      const field = $(error.field);
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", "status");
      invalidFields.set(action.section, field);
    }
  }
}

/** Aborts the run of `section` under way, if any: its end is not reported. */
function cancel(section) {
  const task = running.get(section);
  if (!task) return;
  task.controller.abort();
  end(task);
}

function end(task) {
  tasks.splice(tasks.indexOf(task), 1);
  if (running.get(task.section) === task) running.delete(task.section);
}

/** Names the newest task under way in the status line, or says `idle` when none is. */
function showTasksUnderWay(idle) {
  if (tasks.length > 0) setStatus(`${tasks.at(-1).what} ...`, "busy");
  else setStatus(idle);
}

/**
 * Pictures of the API as object URLs, fetched together; when one fails or
 * `signal` aborts, all are revoked and the failure thrown.
 */
async function pictureUrls(paths, signal) {
  const settled = await Promise.allSettled(
    paths.map(async (path) => URL.createObjectURL(await (await api(path, { signal })).blob())),
  );
  const urls = settled.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  const failed = settled.find((r) => r.status === "rejected");
  if (!failed && !signal.aborted) return urls;
  for (const url of urls) URL.revokeObjectURL(url);
  throw failed ? failed.reason : signal.reason;
}

/**
 * Records `urls` as shown by `section`: after what it shows, or with
 * `replace` instead of it, whose object URLs are then revoked.
 */
function showUrls(section, urls, replace = false) {
  if (replace) { for (const url of state.urls.get(section) ?? []) URL.revokeObjectURL(url); }
  state.urls.set(section, [...(replace ? [] : state.urls.get(section) ?? []), ...urls]);
}

/** How long a "copied" note stays in the status line, in ms. */
const COPIED_MS = 4000;

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    const note = `copied ${text}`;
    setStatus(note);
    // A note, not a result: it goes unless something else took the line since.
    setTimeout(() => {
      if ($("status").textContent === note) setStatus("");
    }, COPIED_MS);
  } catch {
    globalThis.prompt("Copy this URL:", text);
  }
}

/**
 * A figure: the picture (an image or a canvas), its caption and, given a
 * `filename`, its tools (named after `subject`, else the caption).
 */
function figure({ picture, caption, path, filename, subject = caption }) {
  const element = document.createElement("figure");
  const text = document.createElement("figcaption");
  text.textContent = caption;
  element.append(picture, text);
  if (filename) element.append(pictureTools({ picture, path, filename, subject }));
  return element;
}

/**
 * A picture's tools: a "copy URL" button for the GET request that makes it
 * (none for answers of POST requests: no `path`), and a download link of
 * `picture` (an image, a canvas, or a function of a signal that fetches the
 * picture's object URL when the link is first used). Their names say whose
 * picture they act on, after their visible text, which speech input users say.
 */
function pictureTools({ picture, path, filename, subject }) {
  const tools = document.createElement("div");
  tools.className = "tools";
  if (path) {
    const copy = document.createElement("button");
    copy.type = "button";
    copy.textContent = "copy URL";
    copy.setAttribute("aria-label", `copy URL of ${subject}`);
    copy.addEventListener("click", () => copyText(new URL(path, location.href).href));
    tools.append(copy);
  }
  const download = document.createElement("a");
  download.textContent = "download";
  download.download = filename;
  download.setAttribute("aria-label", `download ${subject}`);
  if (picture instanceof HTMLCanvasElement) {
    download.href = "#";
    download.addEventListener("click", () => (download.href = picture.toDataURL("image/png")));
  } else if (typeof picture === "function") {
    // Fetched on the first use, not with the page's pictures: it is more work for the server.
    download.href = "#";
    download.addEventListener("click", (event) => {
      if (download.dataset.fetched) return;
      event.preventDefault();
      attempt({
        what: `fetching ${subject}`,
        section: `download ${filename}`,
        work: async (signal) => {
          download.href = await picture(signal);
          download.dataset.fetched = "true";
          download.click();
          return `downloaded ${subject}.`;
        },
      });
    });
  } else download.href = picture.src;
  tools.append(download);
  return tools;
}

function image(src, alt) {
  const img = document.createElement("img");
  img.src = src;
  img.alt = alt;
  return img;
}

function chip(color) {
  const span = document.createElement("span");
  span.className = "chip";
  span.style.background = color;
  span.setAttribute("aria-hidden", "true");
  return span;
}

const groupName = (g) => (g.label ? `${g.id} ${g.label}` : `group ${g.id}`);

// ---------------------------------------------------------------- faces

/**
 * Shows the faces of the seeds entered, once all have loaded: until then, and
 * when one fails, the faces shown and the target and source stay as they were.
 */
async function showFaces(signal) {
  const entered = $("seeds").value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (entered.length === 0) throw new FieldError("seeds", "enter at least one seed.");
  if (entered.some((s) => !/^\d+$/.test(s) || Number(s) > 2 ** 32 - 1)) {
    throw new FieldError("seeds", "seeds are integers from 0 to 4294967295, separated by commas.");
  }
  const seeds = [...new Set(entered.map(Number))];
  const paths = seeds.map((seed) => `/v1/images/${seed}.png`);
  let urls;
  try {
    urls = await pictureUrls(paths, signal);
  } catch (error) {
    if (signal.aborted || state.seeds.length === 0) throw error;
    const message = `${error.message.replace(/\.$/, "")}; the faces shown stay seeds ${
      state.seeds.join(", ")
    }.`;
    // Still the server's answer: a refused key must still ask for the key and redraw after it.
    throw error instanceof ApiError
      ? new ApiError(message, error.status, error.retryAfter, error.field)
      : new Error(message);
  }
  state.seeds = seeds;
  showUrls("faces", urls, true);
  $("faces").replaceChildren(...seeds.map((seed, i) => faceFigure(seed, paths[i], urls[i])));
  // A target or source no longer shown gives way to the new faces, as on the first load.
  if (!seeds.includes(state.source)) choose("source", seeds[1] ?? seeds[0]);
  if (!seeds.includes(state.target)) choose("target", seeds[0]);
  return `drew ${seeds.length} face${seeds.length === 1 ? "" : "s"}.`;
}

/** A face's figure, with its buttons that pick it as the target or the source. */
function faceFigure(seed, path, url) {
  const face = figure({
    picture: image(url, `generated face of seed ${seed}`),
    caption: `seed ${seed}`,
    path,
    filename: `face-${seed}.png`,
  });
  for (const role of ["target", "source"]) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = role;
    button.dataset.role = role;
    button.dataset.seed = String(seed);
    button.setAttribute("aria-pressed", String(state[role] === seed));
    button.setAttribute("aria-label", `use seed ${seed} as the ${role}`);
    button.addEventListener("click", () => choose(role, seed));
    face.querySelector(".tools").append(button);
  }
  return face;
}

function choose(role, seed) {
  state[role] = seed;
  for (const button of document.querySelectorAll(`button[data-role="${role}"]`)) {
    button.setAttribute("aria-pressed", String(Number(button.dataset.seed) === seed));
  }
  if (role === "target") attempt(DRAW_OVERLAY);
}

// ---------------------------------------------------------------- concepts

/**
 * The owner of each target-layer position, a group id or -1, by the rule the
 * server's concept map draws with.
 */
function ownersFromMaps(maps) {
  const { groups, target } = state.manifest;
  const k = target.height * target.width;
  const owners = positionOwners(
    groups.map((group) => channelsCentre(maps, group.channels, k)),
    groups.map((group) => group.peak),
    k,
  );
  return owners.map((g) => g < 0 ? -1 : groups[g].id);
}

/** The owners read back from the server's concept map at the layer's resolution (exact colours). */
async function ownersFromServer(seed, signal) {
  const { groups, target } = state.manifest;
  const side = target.width;
  const bitmap = await createImageBitmap(
    await (await api(`/v1/images/${seed}/concepts.png?size=${side}`, { signal })).blob(),
  );
  const canvas = new OffscreenCanvas(side, side);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  const pixels = context.getImageData(0, 0, side, side).data;
  const byColor = new Map(groups.map((g) => [g.color, g.id]));
  const hex = (v) => v.toString(16).padStart(2, "0");
  return Int32Array.from({ length: side * side }, (_, p) => {
    const color = `#${hex(pixels[4 * p])}${hex(pixels[4 * p + 1])}${hex(pixels[4 * p + 2])}`;
    return byColor.get(color) ?? -1;
  });
}

/** Loads the target's concept regions and picture (on a new target or run mode), then paints. */
async function drawOverlay(signal) {
  const seed = state.target;
  if (seed === null) return "pick a target to see its concepts.";
  const owners = state.runMode === "browser"
    ? ownersFromMaps((await runHead([seed]))[0])
    : await ownersFromServer(seed, signal);
  // The server's overlay of every group is what the copied URL and the download give.
  const path = `/v1/images/${seed}/concepts.png?style=overlay`;
  const urls = await pictureUrls([`/v1/images/${seed}.png`, path], signal);
  showUrls("overlay", urls, true);
  state.owners = owners;
  $("overlay-stack").replaceChildren(
    image(urls[0], ""),
    Object.assign(document.createElement("canvas"), { id: "overlay-layer" }),
  );
  $("overlay-stack").setAttribute("role", "img");
  $("overlay-caption").textContent = `target seed ${seed}`;
  $("overlay-copy").onclick = () => copyText(new URL(path, location.href).href);
  $("overlay-download").href = urls[1];
  $("overlay-download").download = `concepts-${seed}.png`;
  $("overlay-tools").hidden = false;
  paintOverlay();
  return `drew the concepts of target seed ${seed}.`;
}

/** Paints the loaded regions of the groups ticked under "Groups shown" (no request). */
function paintOverlay() {
  const canvas = $("overlay-layer");
  if (!canvas) return;
  const { target, groups } = state.manifest;
  [canvas.width, canvas.height] = [target.width, target.height];
  canvas.style.imageRendering = "pixelated";
  const shown = new Set(
    [...document.querySelectorAll("#overlay-groups input:checked")].map((i) => Number(i.value)),
  );
  const context = canvas.getContext("2d");
  const data = context.createImageData(target.width, target.height);
  const rgb = new Map(
    groups.map((g) => [g.id, [1, 3, 5].map((i) => parseInt(g.color.slice(i, i + 2), 16))]),
  );
  state.owners.forEach((owner, p) => {
    if (owner < 0 || !shown.has(owner)) return;
    data.data.set([...rgb.get(owner), 150], 4 * p);
  });
  context.putImageData(data, 0, 0);
  // Every group with a region, shown, is said in a word: a list of dozens says nothing more.
  const present = groups.filter((g) => state.owners.includes(g.id));
  const drawn = present.filter((g) => shown.has(g.id));
  const regions = drawn.length === 0
    ? "no group"
    : drawn.length === present.length
    ? "all its groups"
    : drawn.map(groupName).join(", ");
  $("overlay-stack").setAttribute(
    "aria-label",
    `seed ${state.target} with the regions of ${regions}`,
  );
}

// ---------------------------------------------------------------- in the browser

/**
 * onnxruntime-web and the two sessions, loaded once for every run that asks
 * (and again after a failed load).
 */
function runtime() {
  state.runtime ??= loadRuntime().catch((error) => {
    state.runtime = null;
    throw error;
  });
  return state.runtime;
}

/** onnxruntime-web with WebGPU where the browser has an adapter, else wasm, and the two sessions. */
async function loadRuntime() {
  const gpu = globalThis.navigator.gpu
    ? await navigator.gpu.requestAdapter().catch(() => null)
    : null;
  const backend = gpu ? "webgpu" : "wasm";
  const ort = await import(`/studio/ort/ort.${backend}.bundle.min.mjs`);
  ort.env.wasm.wasmPaths = "/studio/ort/";
  // Threads need a cross-origin-isolated page; one thread keeps the page self-contained.
  ort.env.wasm.numThreads = 1;
  const options = { executionProviders: backend === "webgpu" ? ["webgpu", "wasm"] : ["wasm"] };
  const load = async (part) =>
    ort.InferenceSession.create(
      new Uint8Array(await (await api(`/v1/model/${part}.onnx`)).arrayBuffer()),
      options,
    );
  const [head, tail] = [await load("head"), await load("tail")];
  globalThis.studio.backend = backend;
  return { ort, head, tail, backend };
}

async function latentOf(seed) {
  if (!state.latents.has(seed)) {
    const { latent } = await (await api(`/v1/latents/${seed}.json`)).json();
    state.latents.set(seed, Float32Array.from(latent));
  }
  return state.latents.get(seed);
}

/** The target-layer maps [M, K] of each seed, run in the page. */
async function runHead(seeds) {
  const { ort, head } = await runtime();
  const { latent, target } = state.manifest;
  const z = new Float32Array(seeds.length * latent);
  for (const [i, seed] of seeds.entries()) z.set(await latentOf(seed), i * latent);
  const out = await head.run({ z: new ort.Tensor("float32", z, [seeds.length, latent]) });
  const maps = out.maps.data, size = target.channels * target.height * target.width;
  return seeds.map((_, i) => maps.slice(i * size, (i + 1) * size));
}

/** Images [n, 3, S, S] in [-1, 1] of maps, run in the page. */
async function runTail(rows) {
  const { ort, tail } = await runtime();
  const { channels, height, width } = state.manifest.target;
  const maps = new Float32Array(rows.length * channels * height * width);
  rows.forEach((row, i) => maps.set(row, i * row.length));
  const out = await tail.run({
    maps: new ort.Tensor("float32", maps, [rows.length, channels, height, width]),
  });
  return out.image.data;
}

/** An RGB picture's canvas; its label is set where it is shown. */
function canvasOf({ width, height, data }) {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    rgba.set(data.subarray(3 * p, 3 * p + 3), 4 * p);
    rgba[4 * p + 3] = 255;
  }
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [width, height];
  canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
  canvas.setAttribute("role", "img");
  return canvas;
}

// ---------------------------------------------------------------- swaps

/** The chosen groups, as the API names them ("face" for the whole face); an error for none. */
function chosenConcepts() {
  const ids = [...document.querySelectorAll("#swap-groups input:checked")].map((i) => i.value);
  const concepts = $("swap-face").checked ? ["face", ...ids] : ids;
  if (concepts.length === 0) {
    throw new FieldError("swap-groups", "choose at least one concept (or the whole face).");
  }
  return concepts;
}

function groupsOf(concepts) {
  const { groups, face } = state.manifest;
  const ids = new Set(concepts.flatMap((c) => (c === "face" ? face ?? [] : [Number(c)])));
  return groups.filter((g) => ids.has(g.id));
}

/** The chosen concepts as people read them ("face", "5 eyes", "group 3"). */
function conceptNames(concepts) {
  return concepts.map((c) =>
    c === "face" ? "face" : groupName(state.manifest.groups.find((g) => g.id === Number(c)))
  );
}

/** The chosen swap mode, or the one the server defaults to for these concepts. */
function swapModeFor(concepts) {
  const { faces, face } = state.manifest;
  return $("swap-mode").value || defaultSwapMode(faces, face, groupsOf(concepts).map((g) => g.id));
}

async function swap(signal) {
  const { target, source } = state;
  if (target === null || source === null) throw new Error("pick a target and a source first.");
  if (target === source) {
    throw new Error(`seed ${target} is both the target and the source: pick another source.`);
  }
  const concepts = chosenConcepts();
  const mode = swapModeFor(concepts);
  const query = `concepts=${concepts.join(",")}&mode=${mode}`;
  const path = (view) => `/v1/swap/${target}/${source}.png?${query}&view=${view}`;
  const views = [
    ["before", `/v1/images/${target}.png`, `target seed ${target} before the swap`],
    ["after", path("swapped"), `target ${target} with concepts of source ${source}`],
    ["difference", path("difference"), "squared difference between before and after"],
    ["mask", path("mask"), "the swapped region on the target"],
  ];
  let pictures;
  if (state.runMode === "browser") {
    pictures = await swapInBrowser(target, source, groupsOf(concepts), mode);
    signal.throwIfAborted();
    showUrls("swap", [], true);
  } else {
    const urls = await pictureUrls(views.map(([, p]) => p), signal);
    showUrls("swap", urls, true);
    pictures = urls.map((url) => image(url, ""));
  }
  // The pictures stay while other seeds are picked: the caption says whose they are.
  const names = conceptNames(concepts);
  $("swap-caption").textContent = `target ${target} with source ${source}'s ${
    names.join(", ")
  }, mode ${mode}`;
  const result = $("swap-result");
  result.replaceChildren(
    ...views.map(([name, p, caption], i) => {
      const picture = pictures[i];
      if (picture instanceof HTMLImageElement) picture.alt = caption;
      else picture.setAttribute("aria-label", caption);
      return figure({
        picture,
        caption: name,
        path: p,
        filename: `swap-${target}-${source}-${name}.png`,
        subject: `${name} (target ${target}, source ${source})`,
      });
    }),
  );
  globalThis.studio.lastSwap = { mode: state.runMode, target, source, concepts, swapMode: mode };
  return `swapped: target ${target}, source ${source}, ${names.join(", ")}.`;
}

/** Before, after, difference and mask, computed in the page and drawn as the server draws them. */
async function swapInBrowser(target, source, groups, mode) {
  const { resolution: side, target: layer } = state.manifest;
  const k = layer.height * layer.width;
  const [targetMaps, sourceMaps] = await runHead([target, source]);
  const region = swapRegion(targetMaps, sourceMaps, groups, k, mode);
  const swapped = swapMaps(targetMaps, sourceMaps, groups, k, mode, region);
  const images = await runTail([targetMaps, swapped]);
  const before = planarPicture(images, 0, side), after = planarPicture(images, 1, side);
  return [
    before,
    after,
    differenceMap(before, after),
    regionMask(before, region, layer.height, layer.width),
  ].map(canvasOf);
}

// ---------------------------------------------------------------- kernel maps

async function showKernels(signal) {
  const seed = state.target;
  if (seed === null) throw new Error("pick a target first.");
  const style = $("kernel-style").value;
  const container = $("kernels");
  container.replaceChildren();
  showUrls("kernels", [], true);
  const caption = document.createElement("p");
  caption.textContent = `seed ${seed}, ${style}`;
  container.append(caption);
  // 64 px a map, or the server's largest picture when that is smaller.
  const size = Math.min(64, state.manifest.limits.maxImageSize);
  for (const group of state.manifest.groups) {
    const heading = document.createElement("h3");
    const count = group.channels.length;
    heading.append(
      chip(group.color),
      `${groupName(group)} (${count} kernel${count === 1 ? "" : "s"})`,
    );
    const row = document.createElement("div");
    row.className = "row";
    container.append(heading, row);
    for (const kernel of group.channels) {
      const path = `/v1/images/${seed}/kernels/${kernel}.png?style=${style}&size=${size}`;
      const alt = `kernel ${kernel} of ${groupName(group)} on seed ${seed}, ${style}`;
      const [url] = await pictureUrls([path], signal);
      showUrls("kernels", [url]);
      row.append(figure({ picture: image(url, alt), caption: `kernel ${kernel}` }));
    }
  }
  // One copy and one download for all the maps (the server's grid of them): a pair for each map
  // would be hundreds of stops on the way through the page with a keyboard.
  const gridPath = `/v1/images/${seed}/kernels.png?style=${style}`;
  const tools = pictureTools({
    picture: async (signal) => {
      const [grid] = await pictureUrls([gridPath], signal);
      showUrls("kernels", [grid]);
      return grid;
    },
    path: gridPath,
    filename: `seed-${seed}-kernels-${style}.png`,
    subject: `all kernel maps of seed ${seed}, ${style}`,
  });
  tools.prepend("all the maps in one picture:");
  caption.after(tools);
  return `drew the kernel maps of seed ${seed}, ${style}.`;
}

// ---------------------------------------------------------------- model card

function modelCard() {
  const m = state.manifest;
  const card = $("model-card");
  const percent = (v) => `${(100 * v).toFixed(1)}%`;
  const paragraph = (text) => Object.assign(document.createElement("p"), { textContent: text });
  card.replaceChildren(
    paragraph(`${m.model.name} ${m.model.version}: ${m.model.description}`),
    paragraph(
      `${m.resolution}x${m.resolution} images, latent ${m.latent}; target layer ${m.target.layer} ` +
        `with ${m.target.channels} kernels of ${m.target.height}x${m.target.width}; ` +
        `${m.training.kind}, ${m.training.steps} steps; consistency ${
          m.metrics.consistency.toFixed(3)
        }, ` +
        `separation ${m.metrics.separation.toFixed(3)}.`,
    ),
  );
  const table = document.createElement("table");
  table.innerHTML = "<caption>Concept groups</caption><tr><th>group</th><th>kernels</th>" +
    "<th>best landmark part (IoU)</th></tr>";
  for (const g of m.groups) {
    const row = table.insertRow();
    row.insertCell().append(chip(g.color), groupName(g));
    row.insertCell().textContent = String(g.channels.length);
    row.insertCell().textContent = g.naming
      ? `${g.naming.bestPart} (${g.naming.score.toFixed(2)})`
      : "-";
  }
  card.append(table);
  const faces = m.faces;
  if (!faces) return;
  const lines = [
    `eval:faces (N = ${faces.images}, P = ${faces.pairs}): descriptor FD ${
      faces.realism.fd.toFixed(4)
    } ` +
    `(real faces: ${faces.realism.realFd.toFixed(4)}), face detected ${
      percent(faces.realism.faceDetected)
    }.`,
  ];
  if (faces.identity) {
    const { swap: s, generatedJudgedSame } = faces.identity;
    // The target's share beside the verifier's own confusion of two generated faces, and among
    // the pairs it tells apart, where it means the swap kept the target's likeness.
    const distinct = s.judgedTargetDistinct == null
      ? ""
      : `; ${percent(s.judgedTargetDistinct)} of the pairs it tells apart`;
    lines.push(
      `Face swap: judged the source's person ${percent(s.judgedSource)}, the target's ` +
        `${percent(s.judgedTarget)} (two different generated faces: ` +
        `${percent(generatedJudgedSame)}${distinct}), closer to the source ` +
        `${percent(s.closerToSource)}.`,
    );
  }
  for (const row of faces.locality) {
    if (row.ratio === null) continue;
    lines.push(
      `${row.concept}: Out-MSE / In-MSE ${row.ratio.toFixed(4)}, transfer ${
        row.transfer.toFixed(3)
      }.`,
    );
  }
  card.append(...lines.map(paragraph));
}

function groupControls() {
  const { groups, face } = state.manifest;
  const control = (group, name, onChange) => {
    const label = document.createElement("label");
    const input = Object.assign(document.createElement("input"), {
      type: "checkbox",
      value: String(group.id),
      name,
    });
    input.addEventListener("change", onChange);
    label.append(input, chip(group.color), groupName(group));
    return [label, input];
  };
  const overlay = $("overlay-groups"), swapGroups = $("swap-groups");
  // The model may load again (after a key is entered): its controls replace the last ones.
  for (const fieldset of [overlay, swapGroups]) {
    fieldset.replaceChildren(fieldset.querySelector("legend"));
  }
  const [shows, overlayChanged] = choices(
    [["all", groups], ["none", []]],
    "overlay",
    "show",
    paintOverlay,
  );
  overlay.append(shows);
  // A part may be drawn by several groups (the eyes by three): one choice ticks them all.
  const labels = [...new Set(groups.map((g) => g.label).filter((label) => label))];
  const [parts, partsChanged] = choices(
    labels.map((l) => [l, groups.filter((g) => g.label === l)]),
    "swap",
    "parts",
    () => {},
    true,
  );
  swapGroups.append(parts);
  // The single groups, folded away: the buttons above pick in one press what most people want,
  // and 2 x 32 checkboxes would be as many stops on the way through the page with a keyboard.
  const [overlayBoxes, swapBoxes] = [overlay, swapGroups].map((fieldset) => {
    const details = document.createElement("details");
    details.className = "groups";
    const summary = document.createElement("summary");
    summary.textContent = `each of the ${groups.length} groups`;
    const boxes = document.createElement("div");
    boxes.className = "row";
    details.append(summary, boxes);
    fieldset.append(details);
    return boxes;
  });
  for (const group of groups) {
    const [label, input] = control(group, "overlay", overlayChanged);
    input.checked = true;
    overlayBoxes.append(label);
    swapBoxes.append(control(group, "swap", partsChanged)[0]);
  }
  $("swap-face").disabled = !face || face.length === 0;
}

/**
 * A row of buttons over the checkboxes named `name`, one per `[text, groups]`:
 * each ticks exactly its groups, or with `toggle` ticks its groups and leaves
 * the others (unticking its groups when all are ticked already) and shows
 * itself pressed while all its groups are ticked. Returns the row and what a
 * change of the checkboxes does: the toggles' state, then `onChange`.
 */
function choices(options, name, caption, onChange, toggle = false) {
  const row = document.createElement("p");
  row.className = "row choices";
  // The row's caption names the buttons' group: each is named by its own text ("eyes").
  row.setAttribute("role", "group");
  row.setAttribute("aria-label", caption);
  row.append(`${caption}:`);
  const boxes = () => [...document.querySelectorAll(`input[name="${name}"]`)];
  const allTicked = (ids) =>
    boxes().filter((box) => ids.has(box.value)).every((box) => box.checked);
  const toggles = [];
  const changed = () => {
    for (const { button, ids } of toggles) {
      button.setAttribute("aria-pressed", String(allTicked(ids)));
    }
    onChange();
  };
  for (const [text, chosen] of options) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = text;
    button.dataset.choice = `${name}-${text}`;
    const ids = new Set(chosen.map((g) => String(g.id)));
    if (toggle) {
      // Its groups start unticked.
      button.setAttribute("aria-pressed", "false");
      toggles.push({ button, ids });
    }
    button.addEventListener("click", () => {
      if (toggle) {
        const tick = !allTicked(ids);
        for (const box of boxes()) if (ids.has(box.value)) box.checked = tick;
      } else {
        for (const box of boxes()) box.checked = ids.has(box.value);
      }
      changed();
    });
    row.append(button);
  }
  return [row, changed];
}

// ---------------------------------------------------------------- photos

/** A base64 PNG of an API answer as an image. */
function pngImage(base64, alt) {
  return image(`data:image/png;base64,${base64}`, alt);
}

/**
 * The photo as the page sends it: its centre square (what the encoder uses),
 * at most twice the model's resolution on a side, as a JPEG. A phone's photo
 * of megabytes is over the server's body limit, and more pixels than that
 * change nothing (the server scales the square to its resolution by area).
 */
async function reducedPhoto(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new FieldError(
      "photo-file",
      `${file.name} is not a JPEG or PNG photo this browser can read.`,
    );
  }
  const square = Math.min(bitmap.width, bitmap.height);
  const side = Math.min(square, 2 * state.manifest.resolution);
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = side;
  const context = canvas.getContext("2d");
  // A JPEG has no alpha: transparent pixels over white, as the server decodes a PNG's.
  context.fillStyle = "#fff";
  context.fillRect(0, 0, side, side);
  context.imageSmoothingQuality = "high";
  context.drawImage(
    bitmap,
    (bitmap.width - square) / 2,
    (bitmap.height - square) / 2,
    square,
    square,
    0,
    0,
    side,
    side,
  );
  bitmap.close();
  return await new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) => blob ? resolve(blob) : reject(new Error("the photo could not be reduced.")),
      "image/jpeg",
      0.95,
    )
  );
}

/** The bytes of a file as base64. */
async function base64Of(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let k = 0; k < bytes.length; k += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
  }
  return btoa(binary);
}

/** The whole number of steps in field `id`; an error naming it for text or an empty field. */
function stepsOf(id, name) {
  const field = $(id);
  if (field.validity.badInput || field.value === "" || !Number.isInteger(Number(field.value))) {
    throw new FieldError(id, `${name} must be a whole number from ${field.min} to ${field.max}.`);
  }
  return Number(field.value);
}

/** Encodes the chosen photo (POST /v1/encode); shows what the encoder saw and its reconstruction. */
async function encodePhoto(signal) {
  const file = $("photo-file").files[0];
  if (!file) throw new FieldError("photo-file", "choose a photo first.");
  const refine = stepsOf("photo-refine", "refinement steps");
  // Fitting needs the model's gradient files; without them the server fits nothing.
  const fit = state.manifest.files.tailVjp ? stepsOf("photo-fit", "fitting steps") : 0;
  const photo = await reducedPhoto(file);
  const answer = await (await api(`/v1/encode?refine=${refine}&fit=${fit}`, {
    method: "POST",
    headers: { "content-type": photo.type },
    body: photo,
    signal,
  })).json();
  const image = await base64Of(photo);
  signal.throwIfAborted();
  state.photo = { image, fit };
  state.photoRefined = refine > 0;
  $("photo-result").replaceChildren(
    figure({
      picture: pngImage(answer.input, "your photo as the encoder saw it"),
      caption: "as encoded",
      filename: "photo.png",
      subject: "your photo as encoded",
    }),
    figure({
      picture: pngImage(answer.reconstruction, "the generator's image of your photo"),
      caption: `reconstruction${refine > 0 ? `, ${refine} refinement steps` : ""}${
        fit > 0 ? `, ${fit} fitting steps` : ""
      }`,
      filename: "reconstruction.png",
      subject: "your photo's reconstruction",
    }),
  );
  $("photo-swap").disabled = false;
  globalThis.studio.lastPhoto = { latent: answer.latent.length, refine, fit };
  return "encoded your photo.";
}

/**
 * The target with the photo's chosen concepts (POST /v1/swap, the photo as the source, encoded
 * and fitted again by the server: the latent alone would draw a look-alike).
 */
async function swapPhoto(signal) {
  const { photo, photoRefined, target } = state;
  if (photo === null) throw new Error("encode a photo first.");
  if (target === null) throw new Error("pick a target first.");
  const concepts = chosenConcepts();
  const answer = await (await api("/v1/swap", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ target, source: photo, concepts, mode: swapModeFor(concepts) }),
    signal,
  })).json();
  signal.throwIfAborted();
  const names = conceptNames(concepts);
  const description = `target seed ${target} with your photo's ${names.join(", ")}`;
  const result = $("photo-result");
  result.querySelector("figure.photo-swap")?.remove();
  // The picture's text says what it shows; its caption, beside the photo's others, what it is.
  // A photo in a swap is encoded and fitted; refinement steps exist only for its reconstruction.
  const swapped = figure({
    picture: pngImage(answer.swapped, description),
    caption: `swapped into target ${target}` +
      (photoRefined ? " (fitted from the encoder's latent, not the refined one)" : ""),
    filename: "photo-swap.png",
    subject: description,
  });
  swapped.className = "photo-swap";
  result.append(swapped);
  globalThis.studio.lastPhotoSwap = { target, concepts };
  return `swapped your photo's ${names.join(", ")} into target ${target}.`;
}

// ---------------------------------------------------------------- start

/** Tries at loading the model before the page offers a button to try again. */
const MODEL_TRIES = 4;

/** The longest wait before another try, in seconds, whatever Retry-After asks. */
const MAX_WAIT_S = 10;

/**
 * The manifest, asked for again after a 503 (once its Retry-After has passed)
 * or no answer (after 1, 2, 4 s): a server starting or busy is not an end.
 */
async function loadManifest(signal) {
  for (let tried = 1;; tried++) {
    try {
      return await (await api("/v1/model", { signal })).json();
    } catch (error) {
      const passing = error instanceof ApiError && (error.status === 0 || error.status === 503);
      if (!passing || tried === MODEL_TRIES) throw error;
      await sleep(1000 * Math.min(error.retryAfter ?? 2 ** (tried - 1), MAX_WAIT_S), signal);
    }
  }
}

/** Waits `ms`, or rejects when `signal` aborts. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** Loads the model, enables what needs it, and then draws the faces. */
async function start(signal) {
  $("retry-model").hidden = true;
  try {
    state.manifest = await loadManifest(signal);
  } catch (error) {
    // After a 401 the key field is the way on; otherwise the button tries again.
    $("retry-model").hidden = error instanceof ApiError && error.status === 401;
    throw error;
  }
  $("model-name").textContent = `${state.manifest.model.name} ${state.manifest.model.version}`;
  modelCard();
  groupControls();
  const encodes = Boolean(state.manifest.files.encoder);
  $("photo-form").hidden = !encodes;
  $("photo-fit").disabled = !state.manifest.files.tailVjp;
  $("photo-unavailable").hidden = encodes;
  for (const control of document.querySelectorAll("[data-needs-model]")) control.disabled = false;
  attempt(DRAW_FACES);
  return `loaded ${$("model-name").textContent}.`;
}

const LOAD_MODEL = { what: "loading the model", section: "model", work: start };
const DRAW_FACES = { what: "drawing faces", section: "faces", work: showFaces };
const DRAW_OVERLAY = {
  what: "drawing the target's concepts",
  section: "overlay",
  work: drawOverlay,
};
const SWAP = { what: "swapping", section: "swap", work: swap };
const ENCODE = { what: "encoding the photo", section: "photo", work: encodePhoto };
const SWAP_PHOTO = {
  what: "swapping the photo's concepts",
  section: "photo-swap",
  work: swapPhoto,
};
const DRAW_KERNELS = { what: "drawing kernel maps", section: "kernels", work: showKernels };

/** Whether `element` can have focus back: a control still shown and enabled, not the key's. */
function canRefocus(element) {
  return Boolean(element) && element !== document.body && !$("key-form").contains(element) &&
    !element.disabled && element.getClientRects().length > 0;
}

// The page's scroll padding is the status line's height, however many lines its text takes.
new ResizeObserver(([entry]) => {
  const height = `${entry.borderBoxSize[0].blockSize}px`;
  document.documentElement.style.setProperty("--status-height", height);
}).observe($("status"));

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.key = $("api-key").value;
  // What the 401 stopped runs again: the model's load, or an action once it has loaded.
  const { action, control } = interrupted ?? { action: state.manifest ? null : LOAD_MODEL };
  interrupted = null;
  // Focus leaves the form before it hides, or it would fall to the page's body: back to the
  // control that started the action, else to the seeds.
  (canRefocus(control) ? control : $("seeds")).focus();
  $("key-form").hidden = true;
  if (action) attempt(action);
});
$("retry-model").addEventListener("click", () => attempt(LOAD_MODEL));
$("seed-form").addEventListener("submit", (event) => {
  event.preventDefault();
  attempt(DRAW_FACES);
});
$("random-seeds").addEventListener("click", () => {
  $("seeds").value = Array.from({ length: 8 }, () => Math.floor(Math.random() * 1e6)).join(",");
  attempt(DRAW_FACES);
});
for (const radio of document.querySelectorAll('input[name="run-mode"]')) {
  radio.addEventListener("change", () => {
    state.runMode = radio.value;
    attempt(DRAW_OVERLAY);
  });
}
$("swap").addEventListener("click", () => attempt(SWAP));
$("photo-form").addEventListener("submit", (event) => {
  event.preventDefault();
  attempt(ENCODE);
});
// A new photo replaces the encoded one only once it is encoded: until then nothing stands for it.
$("photo-file").addEventListener("change", () => {
  cancel(ENCODE.section);
  cancel(SWAP_PHOTO.section);
  state.photo = null;
  $("photo-result").replaceChildren();
  $("photo-swap").disabled = true;
  // The last photo's error goes; the tasks still under way stay named.
  showTasksUnderWay("");
});
$("photo-swap").addEventListener("click", () => attempt(SWAP_PHOTO));
$("show-kernels").addEventListener("click", () => attempt(DRAW_KERNELS));

attempt(LOAD_MODEL);
