#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm install` / `npm ci` run it): compiles src/, master/ and
// agent/ to dist/ with tsc (bin/tsconfig.build.json), copies the files the code reads at run time next
// to the compiled modules, and stamps the build. bin/taskgrid.js runs dist/ when the stamp is newer
// than every source file, else the sources through tsx (so a stale dist/ never runs old code).
// --prepare: a failed build is reported but does not fail the install (the CLI then uses tsx).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const prepare = process.argv.includes("--prepare");
/** Read at run time relative to the module that reads them. */
const ASSETS = ["src/gen/taskgrid.binpb", "agent/lease-guard.mjs"];
const STAMP = ".build-stamp";

function fail(message) {
  console.error(`build: ${message}`);
  process.exit(prepare ? 0 : 1);
}

// A build that fails half-way must not leave a stamp that vouches for it.
rmSync(join(dist, STAMP), { force: true });
const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "bin", "tsconfig.build.json")], {
  cwd: root,
  stdio: "inherit",
});
if (tsc.status !== 0) fail(`tsc failed${prepare ? "; taskgrid will run from the sources (slower start)" : ""}`);
for (const asset of ASSETS) {
  mkdirSync(dirname(join(dist, asset)), { recursive: true });
  copyFileSync(join(root, asset), join(dist, asset));
}
// agent/version.ts reads ../package.json: the compiled one reads dist/package.json.
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
writeFileSync(join(dist, "package.json"), `${JSON.stringify({ name: "taskgrid-dist", version, type: "module", private: true }, null, 2)}\n`);
writeFileSync(join(dist, STAMP), `${new Date().toISOString()}\n`);

// At install only: the embedded database's template (src/store/pglite-template.ts: initdb plus
// every migration, cached in the user's cache dir), so that the first `npm start` copies a
// database instead of running initdb (~6 s). A failure costs only that: the first start makes it.
if (prepare) {
  const template = new URL("../dist/src/store/pglite-template.js", import.meta.url).href;
  const made = spawnSync(process.execPath, ["--input-type=module", "-e", `await (await import(${JSON.stringify(template)})).ensureTemplate();`], {
    cwd: root,
    stdio: "inherit",
  });
  if (made.status !== 0) console.error("build: the embedded database template was not made; the first `taskgrid dev` will make it");
}
