// The API must compile with old protoc versions (Debian's 3.5, which the Python examples use):
// proto3 `optional` came later (3.12/3.15), so optional scalars are wrapper types instead.
import { readdirSync, readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";

const dir = new URL("../../proto/taskgrid/v1/", import.meta.url);

test("no proto file uses proto3 `optional` (use google.protobuf wrappers)", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".proto"));
  assert.ok(files.length >= 5);
  for (const file of files) {
    const lines = readFileSync(new URL(file, dir), "utf8").split("\n");
    lines.forEach((line, i) => assert.not.match(line.replace(/\/\/.*$/, ""), /^\s*optional\s/, `${file}:${i + 1}: ${line.trim()}`));
  }
});

test.run();
