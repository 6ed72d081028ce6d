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

import { ServedModel } from "./model/model.ts";
import { BundleError } from "./model/bundle.ts";
import { openWorkerPool, WorkerPoolError } from "./model/worker_pool.ts";
import { createApp } from "./routes/app.ts";
import { ServerConfigError, serverConfigFromEnv } from "./routes/config.ts";

/**
 * Render workers keep a process alive, so a stop signal (Ctrl-C, SIGTERM from
 * `deno serve`'s supervisor or a container runtime) stops them and exits,
 * with the shell's status for the signal.
 */
function exitOnSignals(close: () => Promise<void>): void {
  const signals: [Deno.Signal, number][] = Deno.build.os === "windows"
    ? [["SIGINT", 130], ["SIGBREAK", 149]]
    : [["SIGINT", 130], ["SIGTERM", 143]];
  for (const [signal, status] of signals) {
    try {
      Deno.addSignalListener(signal, () => void close().finally(() => Deno.exit(status)));
    } catch {
      // No signals here (an edge runtime): its platform stops the isolate and its workers.
    }
  }
}

/** Loads the configured model and builds the app; exits with a one-line error when it cannot. */
async function startApp() {
  try {
    const config = serverConfigFromEnv((name) => Deno.env.get(name));
    const options = {
      threads: config.threads,
      maxBatch: config.maxBatch,
      maxQueuedRows: config.maxQueuedImages,
    };
    // With workers, they hold the sessions; this thread only needs the manifest.
    const model = config.workers > 0
      ? await ServedModel.describe(config.model, options)
      : await ServedModel.load(config.model, options);
    const renderer = config.workers > 0
      ? await openWorkerPool(model, {
        workers: config.workers,
        folder: config.model,
        ...options,
        timeoutMs: config.timeoutMs,
      })
      : undefined;
    if (renderer) exitOnSignals(() => renderer.close());
    // The description runs to paragraphs; its first sentence says what the model is.
    const { name, version, description } = model.manifest.model;
    console.error(`model: ${name} ${version}: ${description.split(/\.\s/)[0]} (GET /v1/model)`);
    console.error(
      config.workers > 0 ? `render workers: ${config.workers}` : "drawing in the serving thread",
    );
    return { config, app: createApp({ model, renderer, config }) };
  } catch (error) {
    if (
      error instanceof BundleError || error instanceof ServerConfigError ||
      error instanceof WorkerPoolError
    ) {
      console.error(`error: ${error.message}`);
      Deno.exit(1);
    }
    throw error;
  }
}

const { config, app } = await startApp();

/** Whether this process listens itself (`deno task start`, the compiled binary). */
const listen = import.meta.main && Deno.args.includes("--listen");

if (listen) {
  Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ hostname, port }) =>
      console.error(`listening on http://${hostname}:${port}/ (the studio; the API at /docs)`),
  }, app.fetch);
}

// `deno serve` and Deno Deploy serve this; `deno run --listen` serves above, and a default
// fetch export would make deno run warn that it is not serving it.
export default (listen ? {} : { fetch: app.fetch }) as Deno.ServeDefaultExport;
