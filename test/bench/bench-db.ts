// The database a benchmark's master runs on. DESIGN §8 measures on Postgres, so benchmarks use a
// Postgres server by default (the local one): each creates its own database and drops it at the
// end. TASKGRID_BENCH_PG_URL (else TASKGRID_TEST_PG_URL) names another admin connection;
// TASKGRID_BENCH_PG_URL=pglite runs on the embedded database instead.
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "../helpers/test-master.js";

export const DEFAULT_BENCH_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export function benchAdminUrl(): string | undefined {
  const url = process.env.TASKGRID_BENCH_PG_URL ?? process.env.TASKGRID_TEST_PG_URL ?? DEFAULT_BENCH_PG_URL;
  return url === "pglite" ? undefined : url;
}

export interface BenchDatabase extends TestDatabase {
  /** "Postgres host:port" or "embedded PGlite", for the report. */
  label: string;
  /** The Postgres database's name (for cpuWindow); undefined on PGlite. */
  name: string | undefined;
  /**
   * VACUUM ANALYZE (Postgres only). Autovacuum may be off where benchmarks run; between phases this
   * does what it would, so dead rows of one phase and stale planner statistics do not skew the next.
   */
  vacuum(): Promise<void>;
  /** Runs a query on the benchmark's database (Postgres only). */
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const adminUrl = benchAdminUrl();
  const db = await createTestDatabase(adminUrl);
  const url = db.options.databaseUrl;
  let client: pg.Client | null = null;
  const connected = async () => {
    if (!url) throw new Error("this benchmark needs Postgres (TASKGRID_BENCH_PG_URL)");
    if (!client) {
      client = new pg.Client({ connectionString: url });
      await client.connect();
    }
    return client;
  };
  return {
    ...db,
    label: url ? `Postgres ${new URL(url).host}` : "embedded PGlite",
    name: url ? new URL(url).pathname.slice(1) : undefined,
    async vacuum() {
      if (url) await (await connected()).query("VACUUM ANALYZE");
    },
    async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
      return (await (await connected()).query<R>(sql, params)).rows;
    },
    async drop() {
      await (client as pg.Client | null)?.end();
      client = null;
      await db.drop();
    },
  };
}
