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
import { createApp } from "./routes/app.ts";
import { ServerConfigError, serverConfigFromEnv } from "./routes/config.ts";

/** Loads the configured model and builds the app; exits with a one-line error when it cannot. */
async function startApp() {
  try {
    const config = serverConfigFromEnv((name) => Deno.env.get(name));
    const model = await ServedModel.load(config.model, {
      threads: config.threads,
      maxBatch: config.maxBatch,
      maxQueuedRows: config.maxQueuedImages,
    });
    const { name, version, description } = model.manifest.model;
    console.error(`model: ${name} ${version}: ${description}`);
    return { config, app: createApp({ model, config }) };
  } catch (error) {
    if (error instanceof BundleError || error instanceof ServerConfigError) {
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
    onListen: ({ hostname, port }) => console.error(`listening on http://${hostname}:${port}/docs`),
  }, app.fetch);
}

// `deno serve` and Deno Deploy serve this; `deno run --listen` serves above, and a default
// fetch export would make deno run warn that it is not serving it.
export default (listen ? {} : { fetch: app.fetch }) as Deno.ServeDefaultExport;
