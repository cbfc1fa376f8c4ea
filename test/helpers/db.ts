// Isolated databases for store tests: every backend available on this machine, each handed out
// fresh and removed afterwards. PGlite always; Postgres when TASKGRID_TEST_PG_URL names an admin
// connection (e.g. postgres://postgres@127.0.0.1:5432/postgres), in which case each open() creates
// a database taskgrid_test_<random> and cleanup() drops it.
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
  const list: TestBackend[] = [withOpen("pglite", createPgliteDatabase)];
  const adminUrl = process.env.TASKGRID_TEST_PG_URL;
  if (adminUrl) list.push(withOpen("postgres", () => createPostgresDatabase(adminUrl)));
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

async function createPgliteDatabase(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), "taskgrid-test-"));
  return {
    config: { dataDir: join(dir, "db") },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

async function createPostgresDatabase(adminUrl: string): Promise<TestDatabase> {
  const name = `taskgrid_test_${randomBytes(6).toString("hex")}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    config: { databaseUrl: url.toString() },
    // FORCE (Postgres 13+) ends sessions a failed test may have left open.
    cleanup: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
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
