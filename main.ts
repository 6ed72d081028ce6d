/**
 * The HTTP server: the Hono app of `routes/app.ts` on the bundle that
 * `IGAN_MODEL` names, or on the embedded default bundle (`model/default/`).
 *
 * - `deno serve -A main.ts` (and Deno Deploy) serve the default export;
 * - `deno task start` and the compiled binary run `main.ts --listen`, which
 *   listens on `PORT` (8000) itself: `deno run` and `deno compile` do not
 *   serve a default export.
 *
 * Configuration: environment variables, see `routes/config.ts`.
 *
 * @module
 */

import { STOP_SIGNALS } from "./core/stop_signals.ts";
import { ServedModel } from "./model/model.ts";
import { BundleError } from "./model/bundle.ts";
import { openWorkerPool, WorkerPoolError } from "./model/worker_pool.ts";
import { createApp } from "./routes/app.ts";
import {
  type ServerConfig,
  ServerConfigError,
  serverConfigFromEnv,
  settingNotes,
} from "./routes/config.ts";
import { InFlight } from "./routes/in_flight.ts";
import {
  envNeeds,
  missingNeeds,
  permissionFlags,
  type PermissionNeed,
  serveNeeds,
} from "./routes/permissions.ts";
import { RefusalLog } from "./routes/refusal_log.ts";

/** Exits with a one-line error naming the flags of `needs` that are not granted. */
function requirePermissions(needs: PermissionNeed[]): void {
  const missing = missingNeeds(needs);
  if (missing.length === 0) return;
  console.error(
    `error: the server lacks permissions; run it with ${permissionFlags(missing)} ` +
      "(or -A, as deno task start does).",
  );
  Deno.exit(1);
}

/**
 * This process's soft limit on open files, from /proc/self/limits (Linux,
 * with read access there; null elsewhere).
 */
function openFilesLimit(): number | null {
  const path = "/proc/self/limits";
  // Asked first: a read without the permission would prompt on a terminal.
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return null;
  try {
    const limits = Deno.readTextFileSync(path);
    const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
    return soft === undefined ? null : Number(soft);
  } catch {
    return null;
  }
}

/**
 * Loads the configured model and builds the app (listening itself when
 * `listening`); exits with a one-line error when it cannot.
 */
async function startApp(listening: boolean) {
  try {
    requirePermissions(envNeeds());
    const config = serverConfigFromEnv((name) => Deno.env.get(name));
    requirePermissions(serveNeeds(config, listening));
    if (config.workers > 0 && typeof Worker === "undefined") {
      console.error(
        "note: this runtime has no Worker, so the serving thread draws (IGAN_WORKERS=0)",
      );
      config.workers = 0;
    }
    const options = {
      threads: config.threads,
      maxBatch: config.maxBatch,
      maxQueuedRows: config.maxQueuedImages,
    };
    // With workers, they hold the sessions; this thread only needs the manifest.
    const model = config.workers > 0
      ? await ServedModel.describe(config.model, options)
      : await ServedModel.load(config.model, options);
    const { resolution } = model.manifest;
    if (config.maxImageSize < resolution) {
      throw new ServerConfigError(
        `IGAN_MAX_SIZE (${config.maxImageSize}) is under the model's resolution ` +
          `(${resolution}), its pictures' default side; set it to at least ${resolution}.`,
      );
    }
    const renderer = config.workers > 0
      ? await openWorkerPool(model, {
        workers: config.workers,
        folder: config.model,
        ...options,
        timeoutMs: config.timeoutMs,
      })
      : undefined;
    // The description runs to paragraphs; its first sentence says what the model is.
    const { name, version, description } = model.manifest.model;
    console.error(`model: ${name} ${version}: ${description.split(/\.\s/)[0]} (GET /v1/model)`);
    console.error(
      config.workers > 0 ? `render workers: ${config.workers}` : "drawing in the serving thread",
    );
    for (
      const note of settingNotes(config, {
        cpus: navigator.hardwareConcurrency,
        openFiles: openFilesLimit(),
      })
    ) {
      console.error(note);
    }
    console.error(
      config.apiKey === null
        ? "access: /v1/* is open (set IGAN_API_KEY to require a key)"
        : "access: /v1/* needs the API key (IGAN_API_KEY)",
    );
    if (config.corsOrigins.length > 0) console.error(`CORS: ${config.corsOrigins.join(", ")}`);
    const inFlight = new InFlight();
    const refusals = new RefusalLog();
    const app = createApp({
      model,
      renderer,
      config,
      inFlight,
      onRefusal: (kind) => refusals.record(kind),
    });
    const close = async () => {
      refusals.close();
      await renderer?.close();
      // Drawing in this thread, the model holds onnxruntime's sessions.
      await model.release();
    };
    return { config, app, inFlight, close };
  } catch (error) {
    if (
      error instanceof BundleError || error instanceof ServerConfigError ||
      error instanceof WorkerPoolError || error instanceof Deno.errors.NotCapable
    ) {
      console.error(`error: ${error.message}`);
      Deno.exit(1);
    }
    throw error;
  }
}

/** Listens on the configured address; exits with a one-line error when it cannot. */
function listenOn(
  config: ServerConfig,
  fetch: (request: Request) => Response | Promise<Response>,
): Deno.HttpServer {
  const { hostname, port } = config;
  try {
    return Deno.serve({
      port,
      hostname,
      onListen: ({ hostname, port }) => {
        const host = hostname.includes(":") ? `[${hostname}]` : hostname;
        console.error(`listening on http://${host}:${port}/ (the studio; the API at /docs)`);
      },
    }, fetch);
  } catch (error) {
    console.error(
      error instanceof Deno.errors.AddrInUse
        ? `error: port ${port} is in use on ${hostname}; set PORT to a free one (0: any).`
        : error instanceof Deno.errors.PermissionDenied
        ? `error: port ${port} needs privileges this process lacks; set PORT to one above 1023.`
        : `error: cannot listen on ${hostname}:${port} (${(error as Error).message}); set HOST ` +
          "to an address of this machine (0.0.0.0: all of them).",
    );
    Deno.exit(1);
  }
}

/**
 * On a stop signal (Ctrl-C, SIGTERM from a supervisor or a container
 * runtime) `stop` answers what is in flight and stops the render workers.
 * Then a server that listens itself exits with the shell's status for the
 * signal; under `deno serve`, which closes its listener on these signals and
 * writes the last answers itself, the process ends when deno serve's own stop
 * does (status 0), or a few seconds later should something else keep it. A
 * second signal exits at once.
 */
function stopOnSignals(stop: () => Promise<void>, listening: boolean): void {
  let stopping = false;
  for (const { signal, status } of STOP_SIGNALS) {
    try {
      Deno.addSignalListener(signal, () => {
        if (stopping) Deno.exit(status);
        stopping = true;
        void stop().finally(() => {
          if (listening) Deno.exit(status);
          Deno.unrefTimer(setTimeout(() => Deno.exit(status), 5000));
        });
      });
    } catch {
      // No signals here (an edge runtime): its platform stops the isolate and its workers.
    }
  }
}

/** Whether this process listens itself (`deno task start`, the compiled binary). */
const listen = import.meta.main && Deno.args.includes("--listen");

const { config, app, inFlight, close } = await startApp(listen);

const server = listen ? listenOn(config, app.fetch) : undefined;
stopOnSignals(async () => {
  const n = inFlight.count;
  console.error(
    `stopping: answering the ${n} request${n === 1 ? "" : "s"} in flight (within ` +
      `${config.timeoutMs} ms)`,
  );
  // Answers come within the time limit; the timer only bounds a stuck one.
  const limit = new Promise((resolve) =>
    Deno.unrefTimer(setTimeout(resolve, config.timeoutMs + 1000))
  );
  await Promise.race([Promise.all([inFlight.stop(), server?.shutdown()]), limit]);
  await close();
}, listen);

// `deno serve` and Deno Deploy serve this; `deno run --listen` serves above, and a default
// fetch export would make deno run warn that it is not serving it.
export default (listen ? {} : { fetch: app.fetch }) as Deno.ServeDefaultExport;
