// Starts a real master on 127.0.0.1:0 with its own database: a fresh Postgres database when
// TASKGRID_TEST_PG_URL is set (fast), else an embedded PGlite directory. Dropped on cleanup.
import pg from "pg";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMaster, type MasterHandle, type MasterOptions } from "../../master/master.js";

export interface TestDatabase {
  options: Pick<MasterOptions, "databaseUrl" | "dataDir">;
  drop(): Promise<void>;
}

/** `adminUrl` defaults to TASKGRID_TEST_PG_URL (benchmarks pass their own). */
export async function createTestDatabase(adminUrl = process.env.TASKGRID_TEST_PG_URL): Promise<TestDatabase> {
  if (!adminUrl) {
    const dataDir = mkdtempSync(join(tmpdir(), "taskgrid-master-"));
    return { options: { dataDir }, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `taskgrid_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    options: { databaseUrl: url.toString() },
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface TestMaster {
  master: MasterHandle;
  address: string;
  db: TestDatabase;
  logs: string[];
  /** Stops the master (keeps the database, for restart tests). */
  stop(): Promise<void>;
  /** Stops the master and drops its database. */
  cleanup(): Promise<void>;
}

export async function startTestMaster(options: MasterOptions = {}, db?: TestDatabase): Promise<TestMaster> {
  const database = db ?? (await createTestDatabase());
  const logs: string[] = [];
  const master = await startMaster({ listen: "127.0.0.1:0", logLevel: "debug", log: (l) => logs.push(l), ...database.options, ...options });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await master.stop();
  };
  return { master, address: master.address, db: database, logs, stop, cleanup: async () => (await stop(), await database.drop()) };
}
