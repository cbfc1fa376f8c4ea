#!/usr/bin/env -S node --max-semi-space-size=64
// The young generation may grow to 64 MiB semi-spaces (Node 20's default cap here is 16 MiB): a
// loaded master keeps many short-lived objects alive across a commit (reports, promises, rows), and
// with the default cap it spent ~16% of its time in scavenges; this cap makes a third as many, and
// the end-to-end benchmark ran ~20% faster on one machine, within noise on another (issue 18,
// docs/benchmarks.md). A cap, not a reservation: an idle process keeps its small young
// generation. `node bin/taskgrid.js` does not read this line: pass the flag yourself (npm start
// passes --max-semi-space-size=1 on purpose, for the smallest footprint).
// npm bin entry. Runs the compiled CLI in dist/ (built by `npm run build`, which `npm install` runs)
// when it is up to date: starting from JavaScript takes a fraction of compiling TypeScript at every
// start. Otherwise (no build, or a source file changed since it) runs the sources through tsx's
// loader, so a stale build never runs old code. TASKGRID_FROM_SOURCES=1 forces the sources.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
/** What dist/ is compiled from (bin/tsconfig.build.json) plus its copied assets. */
const SOURCE_DIRS = ["src", "master", "agent"];

/** The build's time, or null when there is none (bin/build.mjs writes the stamp last). */
function builtAtMs() {
  try {
    return statSync(join(root, "dist/.build-stamp")).mtimeMs;
  } catch {
    return null;
  }
}

/** Whether some source file changed after the build (stops at the first one). */
function changedSince(ms) {
  for (const dir of SOURCE_DIRS) {
    for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs > ms) return true;
    }
  }
  return false;
}

const builtAt = process.env.TASKGRID_FROM_SOURCES ? null : builtAtMs();
let main;
if (builtAt !== null && !changedSince(builtAt)) {
  main = await import("../dist/src/cli/main.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  main = await import("../src/cli/main.ts");
}
await main.runCli(process.argv.slice(2));
