// Child-process entry (never imported): creates the PGlite database in the directory argv[2] names
// (PGlite runs initdb on an empty directory) and applies every migration, then shuts it down
// cleanly. pglite-template.ts runs it in its own process because initdb peaks near 700 MB RSS and
// WebAssembly memory never shrinks: that footprint ends with this process, not with the master.
import { openPgliteDir } from "./connection.js";
import { migrateToLatest } from "./migrations/index.js";

async function main(dir: string | undefined): Promise<void> {
  if (!dir) throw new Error("usage: pglite-template-build <data dir>");
  const conn = await openPgliteDir(dir);
  try {
    await migrateToLatest(conn.knex);
  } finally {
    await conn.close();
  }
}

main(process.argv[2]).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
