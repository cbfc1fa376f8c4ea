// Creating a PGlite database (initdb) peaks near 700 MB RSS, and WebAssembly memory never shrinks,
// so a master that ran initdb itself would keep that footprint for its whole life. We run initdb in
// a short-lived child process instead; the master then only ever reopens an existing data dir
// (~170 MB). Cost: one extra process start (~1 s) on the very first run.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { promisify } from "node:util";

const INIT_SCRIPT = `
const { PGlite } = require(process.argv[1]);
PGlite.create({ dataDir: process.argv[2] })
  .then((db) => db.close())
  .catch((err) => { console.error(err && err.stack || String(err)); process.exit(1); });
`;

export async function ensurePgliteDataDir(dataDir: string): Promise<void> {
  if (existsSync(join(dataDir, "PG_VERSION"))) return;
  mkdirSync(dataDir, { recursive: true });
  const pgliteEntry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  try {
    await promisify(execFile)(process.execPath, ["-e", INIT_SCRIPT, pgliteEntry, dataDir], { maxBuffer: 1 << 20 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`could not create the embedded database in ${dataDir}: ${stderr.trim() || String(err)}`);
  }
}
