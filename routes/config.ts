/**
 * The server's configuration, from environment variables; every one is
 * optional, and without any the server serves the embedded default bundle.
 *
 * | variable              | meaning                                          | default        |
 * | --------------------- | ------------------------------------------------ | -------------- |
 * | `IGAN_MODEL`          | bundle folder (path or file: URL)                | model/default  |
 * | `PORT`, `HOST`        | where `deno task start` and the binary listen    | 8000, 0.0.0.0  |
 * | `IGAN_MAX_BATCH`      | images per request and per onnxruntime run       | 16             |
 * | `IGAN_MAX_SIZE`       | largest picture side in pixels                   | 512            |
 * | `IGAN_MAX_BODY_BYTES` | largest request body (JSON or photo)             | 262144         |
 * | `IGAN_MAX_PHOTO_PIXELS` | most pixels of an uploaded photo, checked before decoding | 4194304 |
 * | `IGAN_MAX_QUEUE`      | images waiting for inference before 503          | 256            |
 * | `IGAN_TIMEOUT_MS`     | per-request time limit                           | 10000          |
 * | `IGAN_THREADS`        | onnxruntime wasm threads (per render worker)     | 1              |
 * | `IGAN_WORKERS`        | render workers (0: draw in the serving thread)   | one per core   |
 * | `IGAN_CORS_ORIGINS`   | allowed origins, comma-separated, or `*`         | none           |
 * | `IGAN_API_KEY`        | when set, /v1/* needs `Authorization: Bearer <key>` or `X-API-Key` | none |
 *
 * Other variables set but empty count as unset.
 *
 * @module
 */

import { UserError } from "../core/user_error.ts";
import { DEFAULT_MODEL } from "../model/bundle.ts";

/** Everything the server can be configured with. */
export interface ServerConfig {
  model: string | URL;
  port: number;
  hostname: string;
  maxBatch: number;
  maxImageSize: number;
  maxBodyBytes: number;
  /** Most pixels (width x height) of an uploaded photo, read from its header before decoding. */
  maxPhotoPixels: number;
  maxQueuedImages: number;
  timeoutMs: number;
  threads: number;
  /** Render workers; 0 draws in the thread that serves requests. */
  workers: number;
  /** Allowed CORS origins; empty: no CORS headers; ["*"]: any origin. */
  corsOrigins: string[];
  apiKey: string | null;
}

/** The defaults (the embedded model, port 8000). */
export const DEFAULT_SERVER_CONFIG: ServerConfig = {
  model: DEFAULT_MODEL,
  port: 8000,
  hostname: "0.0.0.0",
  maxBatch: 16,
  maxImageSize: 512,
  maxBodyBytes: 262144,
  maxPhotoPixels: 2048 * 2048,
  maxQueuedImages: 256,
  timeoutMs: 10000,
  threads: 1,
  workers: Math.max(1, Math.min(64, navigator.hardwareConcurrency ?? 1)),
  corsOrigins: [],
  apiKey: null,
};

/** An environment variable with an unusable value. */
export class ServerConfigError extends UserError {
  override name = "ServerConfigError";
}

/** Integer variables: name, config key, smallest and largest value. */
const INTEGERS = [
  ["PORT", "port", 0, 65535],
  // A swap draws its result, the target and the source in one run.
  ["IGAN_MAX_BATCH", "maxBatch", 3, 1024],
  ["IGAN_MAX_SIZE", "maxImageSize", 16, 4096],
  ["IGAN_MAX_BODY_BYTES", "maxBodyBytes", 1024, 64 * 1024 * 1024],
  ["IGAN_MAX_PHOTO_PIXELS", "maxPhotoPixels", 64 * 64, 64 * 1024 * 1024],
  ["IGAN_MAX_QUEUE", "maxQueuedImages", 1, 1_000_000],
  ["IGAN_TIMEOUT_MS", "timeoutMs", 100, 3_600_000],
  ["IGAN_THREADS", "threads", 1, 64],
  ["IGAN_WORKERS", "workers", 0, 64],
] as const;

/** Every environment variable the server reads. */
export const SERVER_ENV_NAMES: readonly string[] = [
  ...INTEGERS.map(([name]) => name),
  "IGAN_MODEL",
  "HOST",
  "IGAN_CORS_ORIGINS",
  "IGAN_API_KEY",
];

/** The configuration given by `env` (a lookup such as `Deno.env.get`); throws {@link ServerConfigError}. */
export function serverConfigFromEnv(env: (name: string) => string | undefined): ServerConfig {
  const config: ServerConfig = { ...DEFAULT_SERVER_CONFIG };
  for (const [name, key, min, max] of INTEGERS) {
    const text = env(name);
    if (text === undefined || text === "") continue;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      throw new ServerConfigError(`${name} must be an integer in ${min}..${max}, got "${text}".`);
    }
    config[key] = value;
  }
  if (config.maxQueuedImages < config.maxBatch) {
    throw new ServerConfigError(
      `IGAN_MAX_QUEUE (${config.maxQueuedImages}) must be at least IGAN_MAX_BATCH ` +
        `(${config.maxBatch}), so that a request of the most images fits in the queue.`,
    );
  }
  const model = env("IGAN_MODEL");
  if (model && /^[a-z][a-z0-9+.-]*:\/\//i.test(model) && !model.startsWith("file:")) {
    throw new ServerConfigError(
      `IGAN_MODEL must be a folder's path or a file: URL, got "${model}"; download the bundle first.`,
    );
  }
  if (model) config.model = model.startsWith("file:") ? new URL(model) : model;
  config.hostname = env("HOST") || config.hostname;
  const origins = env("IGAN_CORS_ORIGINS");
  if (origins) {
    config.corsOrigins = origins.split(",").map((o) => o.trim()).filter(Boolean);
    const bad = config.corsOrigins.find((o) => o !== "*" && !/^https?:\/\/[^/\s*]+$/.test(o));
    if (bad || (config.corsOrigins.includes("*") && config.corsOrigins.length > 1)) {
      throw new ServerConfigError(
        "IGAN_CORS_ORIGINS must be * alone or origins like https://example.com, each in full " +
          `(no wildcards inside one), got "${bad ?? origins}".`,
      );
    }
  }
  const apiKey = env("IGAN_API_KEY");
  if (apiKey !== undefined && !/^[\x21-\x7e]+$/.test(apiKey)) {
    // An empty key would serve /v1 to anyone, and one with spaces or other characters could
    // never be matched, since HTTP trims header values and carries ASCII.
    throw new ServerConfigError(
      apiKey === ""
        ? "IGAN_API_KEY is set but empty: unset it to serve without a key, or give the key."
        : "IGAN_API_KEY must be printable ASCII without spaces, as clients send it in a header.",
    );
  }
  config.apiKey = apiKey ?? null;
  return config;
}

/** Open files below which a busy server may meet the limit (each connection holds one). */
const FEW_OPEN_FILES = 4096;

/**
 * Notes for the operator on settings this machine serves badly: more wasm
 * threads than cores (they take turns, and admission, which counts each
 * worker as a core, waits longer than it expects), and a low limit on open
 * files (at it, Deno's listener fails and the server ends).
 */
export function settingNotes(
  config: ServerConfig,
  machine: { cpus: number; openFiles: number | null },
): string[] {
  const notes: string[] = [];
  const threads = Math.max(1, config.workers) * config.threads;
  if (threads > machine.cpus) {
    notes.push(
      `note: ${Math.max(1, config.workers)} render worker(s) x ${config.threads} thread(s) is ` +
        `${threads} threads on ${machine.cpus} cores: they take turns, and requests wait longer ` +
        "than admission expects (the defaults: a worker per core, 1 thread each)",
    );
  }
  if (machine.openFiles !== null && machine.openFiles < FEW_OPEN_FILES) {
    notes.push(
      `note: this process may hold ${machine.openFiles} open files, one a connection; at the ` +
        "limit Deno's listener fails and the server ends: raise it (ulimit -n), or let a proxy " +
        "hold idle clients",
    );
  }
  return notes;
}
