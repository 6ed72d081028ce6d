import { deepEqual, equal, match, throws } from "node:assert/strict";
import {
  DEFAULT_SERVER_CONFIG,
  SERVER_ENV_NAMES,
  ServerConfigError,
  serverConfigFromEnv,
  settingNotes,
} from "./config.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("without variables the server uses the defaults and the embedded model", () => {
  deepEqual(serverConfigFromEnv(envOf({})), DEFAULT_SERVER_CONFIG);
});

Deno.test("variables set the model, port, limits, CORS origins and API key", () => {
  const config = serverConfigFromEnv(envOf({
    IGAN_MODEL: "bundles/celeba",
    PORT: "9000",
    HOST: "127.0.0.1",
    IGAN_MAX_BATCH: "4",
    IGAN_MAX_SIZE: "256",
    IGAN_TIMEOUT_MS: "2500",
    IGAN_THREADS: "2",
    IGAN_CORS_ORIGINS: "https://a.example, https://b.example:8443",
    IGAN_API_KEY: "k",
  }));
  equal(config.model, "bundles/celeba");
  deepEqual(
    [
      config.port,
      config.hostname,
      config.maxBatch,
      config.maxImageSize,
      config.timeoutMs,
      config.threads,
    ],
    [9000, "127.0.0.1", 4, 256, 2500, 2],
  );
  deepEqual(config.corsOrigins, ["https://a.example", "https://b.example:8443"]);
  equal(config.apiKey, "k");
  equal(
    serverConfigFromEnv(envOf({ IGAN_MODEL: "file:///srv/bundle/" })).model.toString(),
    "file:///srv/bundle/",
  );
});

Deno.test("unusable values name the variable", () => {
  for (
    const [name, value] of [
      ["PORT", "80a"],
      ["PORT", "70000"],
      ["IGAN_MAX_BATCH", "0"],
      ["IGAN_MAX_BATCH", "2"],
      ["IGAN_MAX_QUEUE", "15"],
      ["IGAN_TIMEOUT_MS", "-5"],
      ["IGAN_CORS_ORIGINS", "example.com"],
      ["IGAN_CORS_ORIGINS", "https://*.example.com"],
      ["IGAN_CORS_ORIGINS", "*, https://a.example"],
      ["IGAN_API_KEY", ""],
      ["IGAN_API_KEY", " padded"],
      ["IGAN_API_KEY", "sécret"],
      ["IGAN_MODEL", "https://example.com/bundle/"],
    ]
  ) {
    throws(
      () => serverConfigFromEnv(envOf({ [name]: value })),
      (e: Error) => e instanceof ServerConfigError && e.message.startsWith(name),
    );
  }
});

Deno.test("variables set but empty count as unset, except the API key", () => {
  deepEqual(
    serverConfigFromEnv(envOf({ PORT: "", HOST: "", IGAN_MODEL: "", IGAN_MAX_BATCH: "" })),
    DEFAULT_SERVER_CONFIG,
  );
  throws(
    () => serverConfigFromEnv(envOf({ IGAN_API_KEY: "" })),
    /IGAN_API_KEY is set but empty/,
  );
});

Deno.test("SERVER_ENV_NAMES are the variables the configuration reads", () => {
  const read = new Set<string>();
  serverConfigFromEnv((name) => void read.add(name));
  deepEqual([...read].sort(), [...SERVER_ENV_NAMES].sort());
});

Deno.test("settingNotes: more threads than cores, and few open files, are said", () => {
  const machine = { cpus: 2, openFiles: 1048576 };
  deepEqual(settingNotes({ ...DEFAULT_SERVER_CONFIG, workers: 2, threads: 1 }, machine), []);
  const [threads] = settingNotes({ ...DEFAULT_SERVER_CONFIG, workers: 4, threads: 2 }, machine);
  match(threads, /^note: 4 render worker\(s\) x 2 thread\(s\) is 8 threads on 2 cores/);
  const [files] = settingNotes({ ...DEFAULT_SERVER_CONFIG, workers: 2 }, {
    cpus: 2,
    openFiles: 1024,
  });
  match(files, /^note: this process may hold 1024 open files/);
  deepEqual(settingNotes(DEFAULT_SERVER_CONFIG, { cpus: 2, openFiles: null }), []);
});
