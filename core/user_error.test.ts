import { equal, ok } from "node:assert/strict";
import { UserError } from "./user_error.ts";

Deno.test("UserError: a subclass keeps its own name, message and cause", () => {
  class MissingThing extends UserError {
    override name = "MissingThing";
  }
  const cause = new Error("ENOENT");
  const error = new MissingThing("thing.txt does not exist: give another path.", { cause });
  ok(error instanceof UserError && error instanceof Error);
  equal(error.name, "MissingThing");
  equal(error.message, "thing.txt does not exist: give another path.");
  equal(error.cause, cause);
  equal(String(error), "MissingThing: thing.txt does not exist: give another path.");
  equal(new UserError("x").name, "UserError");
});
