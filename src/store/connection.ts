// Opens a Knex instance on either a Postgres server (pg driver) or an embedded PGlite database.
// Both speak the same SQL, so everything above this file is dialect-agnostic; the only
// differences handled here are driver setup, memory settings and bigint parsing.
import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import knexPkg from "knex";
import type { Knex } from "knex";
import pg from "pg";
import { ensurePgliteDataDir } from "./pglite-init.js";

const { knex } = knexPkg;

// PGlite is loaded through require, not import: knex-pglite requires its CommonJS build, and an
// ESM import would load a second copy of the (large) library. Under tsx that second copy costs
// ~40 MB RSS, a sixth of the master's idle budget on PGlite. It is loaded only when used, so a
// master on Postgres never pays for it.
const loadPglite = () => {
  keepWasmUnoptimised();
  return createRequire(import.meta.url)("@electric-sql/pglite") as typeof import("@electric-sql/pglite");
};

/**
 * PGlite's Postgres is ~9 MB of WebAssembly. V8 compiles it twice: at once with its baseline
 * compiler (Liftoff), then again, in the background, with the optimising one (TurboFan), and keeps
 * both. --liftoff-only skips the second: ~55 MB less RSS and a faster open (half as long on a busy
 * 2-core machine: TurboFan competes for the CPU), and on the master's queries (small, mostly
 * waiting on the group commit) no measurable loss. The flag is process-wide and must be set before
 * the module is compiled, hence here. TASKGRID_PGLITE_TIERUP=1 keeps V8's default (a throughput
 * benchmark on the embedded database may want it).
 */
function keepWasmUnoptimised(): void {
  if (process.env.TASKGRID_PGLITE_TIERUP !== "1") setFlagsFromString("--liftoff-only");
}

export type Dialect = "postgres" | "pglite";

export interface ConnectionConfig {
  /** postgres://... selects the pg driver; absent selects embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data directory (default ./.taskgrid/db). Ignored with databaseUrl. */
  dataDir?: string;
  /** Postgres schema to use (created if missing). Ignored for PGlite. */
  schema?: string;
  /** Max pg pool size (default 8). PGlite always has exactly one connection. */
  poolMax?: number;
  /**
   * application_name of every pool connection (Postgres). A master names its sessions after its
   * instance id so that a standby can end them all when the master's lease ran out (leader-sql.ts).
   */
  applicationName?: string;
}

export interface OpenedKnex {
  readonly knex: Knex;
  readonly dialect: Dialect;
  /** Destroys the pool and, for PGlite, shuts the embedded database down. */
  close(): Promise<void>;
}

export const DEFAULT_PGLITE_DIR = "./.taskgrid/db";

const INT8_OID = 20;

// Epoch-millisecond columns are bigint; pg returns int8 as a string by default. All our int8
// values fit in 2^53, so parse them as numbers. This is set per client (the `types` option) rather
// than globally via pg.types.setTypeParser, so other pg users in the process are unaffected.
const pgTypes = {
  getTypeParser(oid: number, format?: "text" | "binary"): (value: string) => unknown {
    if (oid === INT8_OID) return Number;
    return pg.types.getTypeParser(oid, format as "text");
  },
};

// PGlite's defaults (shared_buffers=128MB and friends) put a reopened database at ~250 MB RSS;
// with these (and --liftoff-only above) it is ~117 MB. Postgres touches all of shared_buffers at
// start, so every MB of it is a MB of RSS: 16MB -> 4MB saved ~12 MB. The master touches little
// data per query (working set = active tasks, held in memory anyway) and a buffer miss is a read
// from the OS page cache, so small buffers cost nothing measurable (a 100,000-index array submit
// took the same time on PGlite with 16MB and 4MB). Only an existing data dir benefits: initdb on a
// fresh dir peaks near 700 MB regardless, which is why pglite-init.ts copies a prepared template
// (or runs initdb in a child process) instead.
const PGLITE_SETTINGS = ["shared_buffers=4MB", "work_mem=2MB", "maintenance_work_mem=16MB", "temp_buffers=2MB", "wal_buffers=256kB"];

export async function openKnex(config: ConnectionConfig): Promise<OpenedKnex> {
  return config.databaseUrl ? openPostgres(config.databaseUrl, config) : openPglite(config.dataDir ?? DEFAULT_PGLITE_DIR);
}

async function openPostgres(databaseUrl: string, config: ConnectionConfig): Promise<OpenedKnex> {
  const db = knex({
    client: "pg",
    connection: {
      connectionString: withoutApplicationName(databaseUrl, config.applicationName),
      types: pgTypes,
      application_name: config.applicationName,
      // A write batch's statements go out together and are answered in order (write-script.ts);
      // Knex's own queries, one at a time per connection, run as before.
      pipeline: true,
    } as Knex.PgConnectionConfig,
    pool: {
      min: 1,
      max: config.poolMax ?? 8,
      // The write batches' prepared statements (batch-statement.ts) are planned for each execution,
      // with the tables as they are then. After five runs Postgres would otherwise keep a generic
      // plan made once, e.g. while `tasks` was small: a sequential scan per UPDATE ... FROM
      // json_to_recordset, which made a batch of 15 tasks cost 3x the Postgres CPU (plus its growth
      // with the table). Only named statements are affected; Knex's own queries are unnamed.
      afterCreate: (connection: pg.Client, done: (error: Error | null, connection: pg.Client) => void) => {
        connection.query("SET plan_cache_mode = force_custom_plan").then(
          () => done(null, connection),
          (error: Error) => done(error, connection),
        );
      },
    },
    // An unreachable database shows as an error within seconds (then the master reports the outage
    // and retries) instead of queries waiting a minute for a connection.
    acquireConnectionTimeout: 5_000,
    ...(config.schema ? { searchPath: [config.schema] } : {}),
  });
  if (config.schema) {
    // search_path names a schema that must exist before the first migration creates tables in it.
    await db.raw(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(config.schema)}`);
  }
  return { knex: db, dialect: "postgres", close: () => db.destroy() };
}

async function openPglite(dataDir: string): Promise<OpenedKnex> {
  await ensurePgliteDataDir(dataDir);
  return openPgliteDir(dataDir);
}

/**
 * Opens the PGlite database in `dataDir` as it is: PGlite runs initdb itself when the directory is
 * empty. Only the template builder (pglite-template-build.ts, a child process) relies on that;
 * everything else goes through openKnex, which never lets initdb run in its own process.
 */
export async function openPgliteDir(dataDir: string): Promise<OpenedKnex> {
  const { PGlite } = loadPglite();
  const pglite = await PGlite.create({
    dataDir,
    startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS.flatMap((s) => ["-c", s])],
    parsers: { [INT8_OID]: (value: string) => Number(value) },
  });
  // knex-pglite accepts an existing instance through the connection object (its README calls
  // this experimental and untyped); we need it to pass startParams and parsers.
  // knex-pglite requires PGlite at import time, so it too is loaded only on this path.
  const { default: ClientPgLite } = await import("knex-pglite");
  const db = knex({
    client: ClientPgLite,
    connection: { pglite } as unknown as Knex.StaticConnectionConfig,
  });
  return {
    knex: db,
    dialect: "pglite",
    async close() {
      await db.destroy();
      // knex closes PGlite only if its pool ever acquired the connection.
      if (!pglite.closed) await pglite.close();
    },
  };
}

/**
 * The URL without its application_name parameter when the master names its sessions itself: in
 * node-postgres the URL's value would win, and a standby could then not find a silent leader's
 * sessions to end them (see leader-sql.ts).
 */
export function withoutApplicationName(databaseUrl: string, applicationName: string | undefined): string {
  if (applicationName === undefined || !/[?&]application_name=/.test(databaseUrl)) return databaseUrl;
  const url = new URL(databaseUrl);
  url.searchParams.delete("application_name");
  return url.toString();
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
