import { equal, ok, rejects } from "node:assert/strict";
import { FaceNetworksError, openFaceApi } from "./face_api.ts";
import { UserError } from "../core/user_error.ts";

Deno.test("openFaceApi: networks that cannot load are a user error naming why", async () => {
  // The weights' manifests are the last thing read: everything before them loads as it would.
  const readTextFile = Deno.readTextFile;
  Deno.readTextFile = () => Promise.reject(new Error("the weights are missing"));
  try {
    await rejects(openFaceApi(), (error) => {
      ok(error instanceof FaceNetworksError && error instanceof UserError);
      equal(
        error.message,
        "the face networks (npm @vladmandic/face-api, with tfjs's wasm backend) did not load: " +
          "the weights are missing",
      );
      return true;
    });
  } finally {
    Deno.readTextFile = readTextFile;
  }
});
