import { deepEqual } from "node:assert/strict";
import { join } from "node:path";
import { listFiles, listFolder, pathKind } from "./files.ts";

Deno.test("listFiles: every file under a folder, links to files too, sorted by path", async () => {
  const root = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(root, "b"));
    await Deno.writeTextFile(join(root, "b", "two.txt"), "22");
    await Deno.writeTextFile(join(root, "one.txt"), "1");
    await Deno.writeTextFile(join(elsewhere, "three.txt"), "333");
    await Deno.symlink(join(elsewhere, "three.txt"), join(root, "a-link.txt"));
    await Deno.symlink(join(elsewhere, "gone.txt"), join(root, "broken.txt"));
    await Deno.symlink(elsewhere, join(root, "folder-link"));
    const files = await listFiles(root);
    deepEqual(
      files.map((f) => [f.path.slice(root.length + 1), f.size]),
      [["a-link.txt", 3], ["b/two.txt", 2], ["one.txt", 1]],
    );
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});

Deno.test("listFolder: the files, or that nothing is there, or that it is a file", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(root, "a.png"), "x");
    deepEqual((await listFolder(root) as { path: string }[]).map((f) => f.path), [
      join(root, "a.png"),
    ]);
    deepEqual(await listFolder(join(root, "a.png")), "is not a folder");
    deepEqual(await listFolder(join(root, "missing")), "does not exist");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("pathKind: a file (through a link too), something else, or nothing", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(root, "file.txt"), "1");
    await Deno.symlink(join(root, "file.txt"), join(root, "link.txt"));
    deepEqual(
      await Promise.all(
        ["file.txt", "link.txt", ".", "none.txt"].map((p) => pathKind(join(root, p))),
      ),
      ["file", "file", "other", "missing"],
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
