/**
 * The permissions the server needs when it is not run with `-A`: checked at
 * the start, so that a missing one is one `error:` line naming the flags
 * that grant it, rather than Deno's stack trace from the first read of an
 * environment variable, a render worker that cannot load its modules, or a
 * studio page that answers 500.
 *
 * @module
 */

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SERVER_ENV_NAMES, type ServerConfig } from "./config.ts";
import { runtimeFolder } from "./studio.ts";

/** One permission, and the command-line flag that grants it. */
export interface PermissionNeed {
  flag: "--allow-env" | "--allow-read" | "--allow-net";
  /** The flag's value for it: a variable, a path, or host:port. */
  value: string;
  descriptor: Deno.PermissionDescriptor;
}

/** Reading the environment variables the configuration comes from. */
export function envNeeds(): PermissionNeed[] {
  return SERVER_ENV_NAMES.map((variable) => ({
    flag: "--allow-env",
    value: variable,
    descriptor: { name: "env", variable },
  }));
}

/** A folder of this repository (the server's own files). */
function ownFolder(name: string): string {
  return fileURLToPath(new URL(`../${name}/`, import.meta.url)).replace(/\/$/, "");
}

/**
 * What serving with `config` reads, and where it listens when `listening`:
 * the bundle's folder; the modules the render workers load (`model/`,
 * `core/`) and the studio's files (`studio/`); onnxruntime-web's folder in
 * Deno's npm cache, whose wasm the sessions read as a file; and the address.
 */
export function serveNeeds(config: ServerConfig, listening: boolean): PermissionNeed[] {
  const bundle = resolve(config.model instanceof URL ? fileURLToPath(config.model) : config.model);
  const folders = [...["model", "core", "studio"].map(ownFolder), bundle, runtimeFolder()]
    .map((folder) => folder.replace(/\/$/, ""));
  // The default bundle lies in model/: a folder inside another needs no flag of its own.
  const outermost = folders.filter((folder, k) =>
    folders.findIndex((other) => folder === other || folder.startsWith(`${other}/`)) === k
  );
  const needs: PermissionNeed[] = outermost.map((path) => ({
    flag: "--allow-read",
    value: path,
    descriptor: { name: "read", path },
  }));
  if (listening) {
    // An IPv6 address is bracketed, as Deno's --allow-net and its permission queries read it.
    const address = config.hostname.includes(":") ? `[${config.hostname}]` : config.hostname;
    const host = config.port === 0 ? address : `${address}:${config.port}`;
    needs.push({ flag: "--allow-net", value: host, descriptor: { name: "net", host } });
  }
  return needs;
}

/** The needs not granted now (a permission Deno would prompt for counts as not granted). */
export function missingNeeds(needs: readonly PermissionNeed[]): PermissionNeed[] {
  return needs.filter((need) => Deno.permissions.querySync(need.descriptor).state !== "granted");
}

/** Flags that grant `needs`, one per kind: `--allow-env=PORT,HOST --allow-read=/a,/b`. */
export function permissionFlags(needs: readonly PermissionNeed[]): string {
  const byFlag = new Map<string, string[]>();
  for (const need of needs) byFlag.set(need.flag, [...byFlag.get(need.flag) ?? [], need.value]);
  return [...byFlag].map(([flag, values]) => `${flag}=${values.join(",")}`).join(" ");
}
