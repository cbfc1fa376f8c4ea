// Isolated test databases, each handed out fresh and removed afterwards. The one place tests create
// and drop databases (createFreshDatabase): a PGlite temp directory, or on a Postgres admin
// connection (e.g. postgres://postgres@127.0.0.1:5432/postgres) a database taskgrid_test_<random>.
// Two views of it: backends() below for store tests (StoreConfig + cleanup(); every backend this
// machine has: PGlite always, Postgres when TASKGRID_TEST_PG_URL is set), and createTestDatabase in
// test-master.ts for master tests and benchmarks (MasterOptions + drop()).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openStore, type StoreConfig, type TaskgridStore } from "../../src/store/index.js";

export interface TestDatabase {
  /** Config that opens this database (reopen it with openStore(config) to test restarts). */
  config: StoreConfig;
  /** Drops the database / removes the directory. Close every store on it first. */
  cleanup(): Promise<void>;
}

export interface TestBackend {
  name: "pglite" | "postgres";
  /** A fresh, empty database. */
  create(): Promise<TestDatabase>;
  /** A fresh database with a migrated store open on it; cleanup() also closes the store. */
  open(): Promise<{ store: TaskgridStore; config: StoreConfig; cleanup(): Promise<void> }>;
}

export function backends(): TestBackend[] {
  const list: TestBackend[] = [withOpen("pglite", () => storeView(undefined))];
  const adminUrl = process.env.TASKGRID_TEST_PG_URL;
  if (adminUrl) list.push(withOpen("postgres", () => storeView(adminUrl)));
  return list;
}

function withOpen(name: TestBackend["name"], create: () => Promise<TestDatabase>): TestBackend {
  return {
    name,
    create,
    async open() {
      const db = await create();
      const store = await openStore(db.config);
      await store.migrate();
      return {
        store,
        config: db.config,
        async cleanup() {
          await store.close();
          await db.cleanup();
        },
      };
    },
  };
}

/** A fresh, empty database, not yet opened by anything. */
export interface FreshDatabase {
  /** Postgres: the URL of this database (the admin URL with its name); undefined on PGlite. */
  databaseUrl: string | undefined;
  /**
   * PGlite: a temp directory of this database's own; the data lives in `<dir>/db` (where a master
   * with `dataDir: dir` keeps it, too). Undefined on Postgres.
   */
  dir: string | undefined;
  /** Drops the database / removes the directory. Close every store on it first. */
  drop(): Promise<void>;
}

/** A fresh database on the Postgres server `adminUrl` names (an admin connection), else on PGlite. */
export async function createFreshDatabase(adminUrl?: string): Promise<FreshDatabase> {
  if (!adminUrl) {
    const dir = await mkdtemp(join(tmpdir(), "taskgrid-test-"));
    return { databaseUrl: undefined, dir, drop: () => rm(dir, { recursive: true, force: true }) };
  }
  const name = `taskgrid_test_${randomBytes(6).toString("hex")}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    dir: undefined,
    // FORCE (Postgres 13+) ends sessions a failed test (or a killed master) may have left open.
    drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** The store tests' view of a fresh database: a StoreConfig that opens it. */
async function storeView(adminUrl?: string): Promise<TestDatabase> {
  const db = await createFreshDatabase(adminUrl);
  return {
    config: db.databaseUrl !== undefined ? { databaseUrl: db.databaseUrl } : { dataDir: join(db.dir!, "db") },
    cleanup: db.drop,
  };
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
