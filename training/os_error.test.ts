import { equal } from "node:assert/strict";
import { isDiskError, isOsError } from "./os_error.ts";

const systemError = (code: unknown) => Object.assign(new Error("from the system"), { code });

Deno.test("isOsError: Deno's classes and plain errors with a system code", async () => {
  const missing = await Deno.readFile("/nonexistent/file").catch((error) => error);
  equal(isOsError(missing), true);
  equal(isOsError(systemError("ENOSPC")), true);
  equal(isOsError(new Error("a bug")), false);
  equal(isOsError(systemError(28)), false);
  equal(isOsError("ENOSPC"), false);
});

Deno.test("isDiskError: a full or read-only disk, not a missing file", async () => {
  equal(isDiskError(systemError("ENOSPC")), true);
  equal(isDiskError(systemError("EROFS")), true);
  equal(isDiskError(await Deno.readFile("/nonexistent/file").catch((error) => error)), false);
  equal(isDiskError(new Error("a bug")), false);
});
