// Starts a real master on 127.0.0.1:0 with its own database: a fresh Postgres database when
// TASKGRID_TEST_PG_URL is set (fast), else an embedded PGlite directory. Dropped on cleanup.
// The databases themselves come from createFreshDatabase (db.ts).
import { startMaster, type MasterHandle, type MasterOptions } from "../../master/master.js";
import { createFreshDatabase } from "./db.js";

/** A fresh database as master options (the master tests' view of db.ts's createFreshDatabase). */
export interface TestDatabase {
  options: Pick<MasterOptions, "databaseUrl" | "dataDir">;
  drop(): Promise<void>;
}

/** `adminUrl` defaults to TASKGRID_TEST_PG_URL (benchmarks pass their own); none: PGlite. */
export async function createTestDatabase(adminUrl = process.env.TASKGRID_TEST_PG_URL): Promise<TestDatabase> {
  const db = await createFreshDatabase(adminUrl);
  return { options: db.databaseUrl !== undefined ? { databaseUrl: db.databaseUrl } : { dataDir: db.dir }, drop: db.drop };
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
