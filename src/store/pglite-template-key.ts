// Where the pre-initialised PGlite data-dir template lives and what it is keyed by. A template is
// only valid for the PGlite build that wrote it and the migration set that was applied to it, so
// both are in its name: a new PGlite or an edited/added migration means a new template (the old
// one is pruned later), never a stale one reused.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, platform } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Bumped when the template's layout (manifest, directory names) changes. */
export const TEMPLATE_FORMAT = 1;

/**
 * The cache directory: $TASKGRID_CACHE_DIR, else the user's cache dir ($XDG_CACHE_HOME/taskgrid,
 * ~/.cache/taskgrid; ~/Library/Caches/taskgrid on macOS, %LOCALAPPDATA%\taskgrid on Windows).
 * Not node_modules/.cache: `npm start` (sources) and bin/taskgrid.js (dist/) must share one, and a
 * global install's node_modules may be read-only.
 */
export function taskgridCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TASKGRID_CACHE_DIR) return env.TASKGRID_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "taskgrid");
  if (platform() === "darwin") return join(homedir(), "Library", "Caches", "taskgrid");
  if (platform() === "win32" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "taskgrid");
  return join(homedir(), ".cache", "taskgrid");
}

/** The folder holding every template (one subfolder per key). */
export const templatesDir = (cacheDir: string): string => join(cacheDir, "pglite-templates");

let cachedKey: string | undefined;

/** `pglite-<version>-<hash>`: the hash covers the template format and the migration sources. */
export function templateKey(): string {
  if (cachedKey) return cachedKey;
  const version = pgliteVersion();
  const hash = createHash("sha256").update(`format ${TEMPLATE_FORMAT}\npglite ${version}\n`);
  hashMigrations(hash);
  cachedKey = `pglite-${version}-${hash.digest("hex").slice(0, 16)}`;
  return cachedKey;
}

function pgliteVersion(): string {
  // The package's exports do not include package.json: find it from the entry point (dist/index.cjs).
  const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
    if (pkg.name === "@electric-sql/pglite" && pkg.version) return pkg.version;
  }
  throw new Error(`cannot find the version of @electric-sql/pglite (entry ${entry})`);
}

/**
 * Hashes the migrations' TypeScript sources, so that the sources (tsx, `npm start`) and the
 * compiled dist/ (bin/taskgrid.js) compute the same key: from dist/src/store the sources are
 * ../../../src/store/migrations. Without sources (not expected: bin/taskgrid.js needs them too)
 * the compiled files are hashed instead, which only costs a second template.
 */
function hashMigrations(hash: ReturnType<typeof createHash>): void {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates: [string, string][] = [
    [join(here, "migrations"), ".ts"],
    [join(here, "..", "..", "..", "src", "store", "migrations"), ".ts"],
    [join(here, "migrations"), ".js"],
  ];
  for (const [dir, ext] of candidates) {
    if (!existsSync(dir)) continue;
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(ext) && !f.endsWith(".d.ts"))
      .sort();
    if (files.length === 0) continue;
    for (const file of files) hash.update(`${file}\n`).update(readFileSync(join(dir, file)));
    return;
  }
  throw new Error(`cannot find the migrations next to ${here}`);
}
