// The pre-initialised PGlite data directory ("template"): initdb plus every migration, made once
// per PGlite version and migration set (pglite-template-key.ts) and kept in the user's cache dir.
// A fresh embedded database is then a file copy (~0.1 s) instead of initdb (~6 s, ~700 MB peak).
//
// Layout: <cache>/pglite-templates/<key>/{data/, manifest.json}. A template is built in a temp
// folder beside it and renamed into place, so two processes building at once both succeed and
// the loser's copy is thrown away; a reader never sees a half-built one. The manifest (written
// last) lists every folder and every file's size and sha256; each copy is checked against it, and
// a template that does not match (disk damage, a hand edit) is removed and built again.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, createReadStream, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { taskgridCacheDir, templateKey, templatesDir } from "./pglite-template-key.js";

const MANIFEST = "manifest.json";
/** Postgres reads this file to tell a data directory from an empty one: it is moved in last. */
const PG_VERSION = "PG_VERSION";
/** A template of another key unused this long is removed when a new template is built. */
const PRUNE_UNUSED_MS = 24 * 3600_000;
/** A temp folder this old is a builder that died (a build takes seconds). */
const PRUNE_TEMP_MS = 3600_000;
/** Files up to this size are hashed from one read; bigger ones (the 16 MB WAL segment) streamed. */
const SMALL_FILE = 1 << 20;

export interface TemplateOptions {
  /** Default: taskgridCacheDir(). */
  cacheDir?: string;
}

interface Manifest {
  key: string;
  dirs: string[];
  files: { path: string; size: number; sha256: string }[];
}

/** The template did not match its manifest (or had none): it must not be used. */
export class TemplateCorruptError extends Error {
  constructor(
    readonly templateDir: string,
    detail: string,
  ) {
    super(`PGlite template ${templateDir} is damaged: ${detail}`);
    this.name = "TemplateCorruptError";
  }
}

/** Building a database in a child process failed. */
export class PgliteBuildError extends Error {
  constructor(dir: string, detail: string) {
    super(`could not create the embedded database in ${dir}: ${detail}`);
    this.name = "PgliteBuildError";
  }
}

export const templatePath = (options: TemplateOptions = {}): string => join(templatesDir(options.cacheDir ?? taskgridCacheDir()), templateKey());

/** The template's folder, built first when there is none. */
export async function ensureTemplate(options: TemplateOptions = {}): Promise<{ dir: string; built: boolean }> {
  const dir = templatePath(options);
  if (await exists(join(dir, MANIFEST))) return { dir, built: false };
  // A template is renamed into place with its manifest, so a folder without one was not made here.
  if (await exists(dir)) throw new TemplateCorruptError(dir, "it has no manifest");
  await mkdir(dirname(dir), { recursive: true });
  const temp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await buildPgliteDatabase(join(temp, "data"));
    await writeFile(join(temp, MANIFEST), JSON.stringify(await manifestOf(join(temp, "data"), templateKey())));
    try {
      await rename(temp, dir);
    } catch (err) {
      // Another process renamed its template into place first: use that one.
      if (!(await exists(join(dir, MANIFEST)))) throw err;
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  await pruneOthers(dirname(dir), templateKey());
  return { dir, built: true };
}

/** Removes a template (a damaged one); a process copying from it then fails its check. */
export async function removeTemplate(dir: string): Promise<void> {
  // Renamed away first so that no reader finds it half-removed under its name.
  const doomed = `${dir}.tmp-removed-${process.pid}-${randomBytes(4).toString("hex")}`;
  await rename(dir, doomed).catch(() => undefined);
  await rm(doomed, { recursive: true, force: true });
}

/**
 * Copies the template into `dataDir` (created if missing; it must not hold a database yet).
 * Copies into a folder beside it and moves the entries in with PG_VERSION last, so an interrupted
 * copy leaves no PG_VERSION and the next start copies again. Throws TemplateCorruptError when a
 * copied file does not match the manifest.
 */
export async function copyTemplate(templateDir: string, dataDir: string): Promise<void> {
  const manifest = await readManifest(templateDir);
  const source = join(templateDir, "data");
  const staging = `${dataDir}.partial-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await mkdir(staging, { recursive: true });
    for (const dir of manifest.dirs) await mkdir(join(staging, dir), { recursive: true });
    for (const file of manifest.files) {
      const to = join(staging, file.path);
      try {
        // Synchronous: ~1,000 small files, and nothing else runs while a master starts; per-file
        // promises cost more than the copying.
        copyFileSync(join(source, file.path), to);
      } catch (err) {
        throw new TemplateCorruptError(templateDir, `${file.path}: ${(err as Error).message}`);
      }
      const { size, sha256 } = file.size <= SMALL_FILE ? digestSmall(to) : await digest(to);
      if (size !== file.size || sha256 !== file.sha256) throw new TemplateCorruptError(templateDir, `${file.path} differs from its manifest`);
    }
    await mkdir(dataDir, { recursive: true });
    const entries = (await readdir(staging)).sort((a, b) => Number(a === PG_VERSION) - Number(b === PG_VERSION));
    for (const entry of entries) {
      // Left over from an interrupted start (there is no PG_VERSION, so no database to lose).
      await rm(join(dataDir, entry), { recursive: true, force: true });
      await rename(join(staging, entry), join(dataDir, entry));
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  // Marks the template as used, for pruneOthers. Best effort: a read-only cache still works.
  const now = new Date();
  await utimes(join(templateDir, MANIFEST), now, now).catch(() => undefined);
}

/** Creates a PGlite database with every migration in `dir`, in a child process (see pglite-template-build.ts). */
export async function buildPgliteDatabase(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  // The builder is a sibling module: .ts under tsx (the child then needs tsx's loader too), .js in dist/.
  const builder = fileURLToPath(new URL(`./pglite-template-build${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));
  const loader = builder.endsWith(".ts") ? ["--import", import.meta.resolve("tsx")] : [];
  try {
    await promisify(execFile)(process.execPath, [...loader, builder, dir], { maxBuffer: 1 << 20 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new PgliteBuildError(dir, stderr.trim() || String(err));
  }
}

async function readManifest(templateDir: string): Promise<Manifest> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(templateDir, MANIFEST), "utf8")) as Manifest;
  } catch (err) {
    throw new TemplateCorruptError(templateDir, `no readable manifest (${(err as Error).message})`);
  }
  if (manifest.key !== templateKey() || !Array.isArray(manifest.files) || !manifest.files.some((f) => f.path === PG_VERSION)) {
    throw new TemplateCorruptError(templateDir, "its manifest is not this template's");
  }
  return manifest;
}

async function manifestOf(dataDir: string, key: string): Promise<Manifest> {
  const manifest: Manifest = { key, dirs: [], files: [] };
  for (const entry of await readdir(dataDir, { recursive: true, withFileTypes: true })) {
    const path = relative(dataDir, join(entry.parentPath, entry.name));
    if (entry.isDirectory()) manifest.dirs.push(path);
    else if (entry.isFile()) {
      const file = join(dataDir, path);
      manifest.files.push({ path, ...((await stat(file)).size <= SMALL_FILE ? digestSmall(file) : await digest(file)) });
    }
  }
  manifest.dirs.sort();
  manifest.files.sort((a, b) => a.path.localeCompare(b.path));
  return manifest;
}

/** Size and sha256 of a file read at once (small files: one read instead of a stream's round trips). */
function digestSmall(file: string): { size: number; sha256: string } {
  const bytes = readFileSync(file);
  return { size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** Size and sha256 of a file, streamed (the WAL segment alone is 16 MB; the master's heap should not hold it). */
async function digest(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest("hex") };
}

/** Removes templates of other keys not used for a day, and temp folders of builders that died. */
async function pruneOthers(folder: string, key: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(folder).catch(() => [] as string[])) {
    if (name === key) continue;
    const path = join(folder, name);
    const isTemp = name.includes(".tmp-");
    const usedAt = await stat(isTemp ? path : join(path, MANIFEST)).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (now - usedAt > (isTemp ? PRUNE_TEMP_MS : PRUNE_UNUSED_MS)) await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
