// The API must never break silently: proto/ is checked with `buf breaking` against the last released
// image (proto/baseline/taskgrid-v0.1.0.binpb). buf runs offline (no BSR): the baseline is a local file.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const buf = join(root, "node_modules/.bin/buf");
const BASELINE = "proto/baseline/taskgrid-v0.1.0.binpb";

test("proto/ has no breaking change against the v0.1.0 baseline (npm run proto:breaking)", () => {
  execFileSync(buf, ["breaking", "--against", BASELINE], { cwd: root });
});

test("the check is not vacuous: deleting a released field is reported as breaking", () => {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-breaking-"));
  try {
    cpSync(join(root, "buf.yaml"), join(dir, "buf.yaml"));
    cpSync(join(root, "proto/taskgrid"), join(dir, "proto/taskgrid"), { recursive: true });
    const file = join(dir, "proto/taskgrid/v1/admin_service.proto");
    const text = readFileSync(file, "utf8");
    const edited = text.replace(/^\s*int64 deadline_misses = 15;\n/m, "");
    assert.is.not(edited, text, "the field to delete was not found; pick another released field");
    writeFileSync(file, edited);
    const r = spawnSync(buf, ["breaking", "--against", join(root, BASELINE)], { cwd: dir, encoding: "utf8" });
    assert.is.not(r.status, 0, "buf breaking passed although a released field was deleted");
    assert.match(r.stdout + r.stderr, /deadline_misses|15/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
