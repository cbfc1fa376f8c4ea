// src/gen is committed; this fails when it no longer matches what `npm run gen` produces from proto/.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("../..", import.meta.url).pathname;

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}

test("src/gen matches buf generate output (run `npm run gen` when this fails)", () => {
  const out = mkdtempSync(join(tmpdir(), "taskgrid-gen-"));
  try {
    execFileSync(join(root, "node_modules/.bin/buf"), ["generate", "-o", out], { cwd: root });
    execFileSync(join(root, "node_modules/.bin/buf"), ["build", "-o", join(out, "src/gen/taskgrid.binpb")], { cwd: root });
    const fresh = join(out, "src/gen");
    const committed = join(root, "src/gen");
    const freshFiles = listFiles(fresh)
      .map((f) => relative(fresh, f))
      .sort();
    const committedFiles = listFiles(committed)
      .map((f) => relative(committed, f))
      .sort();
    assert.equal(committedFiles, freshFiles, "file list differs");
    for (const f of freshFiles) {
      assert.ok(readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))), `src/gen/${f} is stale`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("buf lint is clean", () => {
  execFileSync(join(root, "node_modules/.bin/buf"), ["lint"], { cwd: root });
});

test.run();
