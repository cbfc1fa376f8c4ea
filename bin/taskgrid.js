#!/usr/bin/env node
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
