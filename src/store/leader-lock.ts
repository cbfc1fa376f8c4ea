// The database side of leader election: one session that may hold the advisory lock, and the
// statements on the `leader` row (leader-sql.ts). On Postgres the session is a connection of its
// own, outside the pool: a session advisory lock lives exactly as long as that connection, so a
// master that dies or loses its connection loses the lock with it. On embedded PGlite only one
// process can open the database at all, so that process always wins (it still takes a new epoch
// on every start, so fencing works the same).
import pg from "pg";
import type { Knex } from "knex";
import { CLAIM_SQL, READ_SQL, RENEW_SQL, RESIGN_SQL, TERMINATE_SQL, TRY_LOCK_SQL, rowToLeader, type LeaderRow } from "./leader-sql.js";
import { isConnectionError } from "./connection-errors.js";
import { toNumber } from "./sql-util.js";
import { withoutApplicationName } from "./connection.js";

export interface LeaderClaim {
  epoch: number;
  acquiredAtMs: number;
}

export interface LeaderLock {
  /** Takes the lock if it is free; true while this session holds it. */
  tryAcquire(): Promise<boolean>;
  /** Takes the next epoch (call while holding the lock). */
  claim(holder: string, address: string, leaseMs: number): Promise<LeaderClaim>;
  /** Extends the lease; false when a later epoch was claimed meanwhile. */
  renew(epoch: number, holder: string): Promise<boolean>;
  /** Ends the lease at once (a clean stop). */
  resign(epoch: number, holder: string): Promise<void>;
  read(): Promise<LeaderRow>;
  /** Ends every session of a silent leader (see TERMINATE_SQL); how many were ended. */
  terminate(holder: string): Promise<number>;
  /** Ends the session (and with it the lock); the next call opens a fresh one. */
  reset(): Promise<void>;
}

export interface PostgresLockConfig {
  databaseUrl: string;
  schema?: string;
  applicationName: string;
  /** Bound on each statement, so a hung database cannot hang the election loop. */
  queryTimeoutMs: number;
}

/** `?` placeholders (the Knex style of the *-sql.ts files) as pg's `$1, $2, ...`. */
function dollarParams(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * The statements on the `leader` row, over whatever session runs them (a dedicated pg connection,
 * or the embedded database's one).
 */
abstract class LeaderRowStatements {
  protected abstract query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;

  async claim(holder: string, address: string, leaseMs: number): Promise<LeaderClaim> {
    const [row] = await this.query(CLAIM_SQL, [holder, address, leaseMs]);
    return { epoch: toNumber(row.epoch), acquiredAtMs: toNumber(row.acquired_at_ms) };
  }

  async renew(epoch: number, holder: string): Promise<boolean> {
    return (await this.query(RENEW_SQL, [epoch, holder])).length === 1;
  }

  async resign(epoch: number, holder: string): Promise<void> {
    await this.query(RESIGN_SQL, [epoch, holder]);
  }

  async read(): Promise<LeaderRow> {
    const [row] = await this.query(READ_SQL);
    return rowToLeader(row);
  }
}

export class PostgresLeaderLock extends LeaderRowStatements implements LeaderLock {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private held = false;

  constructor(private readonly config: PostgresLockConfig) {
    super();
  }

  async tryAcquire(): Promise<boolean> {
    // pg_try_advisory_lock stacks: taken once per session, then remembered. A session-level lock
    // lasts as long as the session, so while held a round trip only checks the session is alive:
    // one ended by pg_terminate_backend may not have told the client yet, and must not count.
    if (this.held) {
      await this.query("SELECT 1");
      return this.held;
    }
    const [row] = await this.query(TRY_LOCK_SQL);
    this.held = row?.locked === true;
    return this.held;
  }

  async terminate(holder: string): Promise<number> {
    const [row] = await this.query(TERMINATE_SQL, [holder]);
    return toNumber(row?.terminated ?? 0);
  }

  async reset(): Promise<void> {
    const client = this.client ?? (await this.connecting?.catch(() => null)) ?? null;
    this.client = null;
    this.connecting = null;
    this.held = false;
    await client?.end().catch(() => undefined);
  }

  protected async query(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    const client = await this.session();
    try {
      const result = await client.query(dollarParams(sql), params);
      return result.rows;
    } catch (err) {
      // A query can fail on a dead socket before the client emits "error" (which forgets the
      // session below): forget it here too, so the next call reconnects instead of failing again.
      if (isConnectionError(err) && this.client === client) {
        this.client = null;
        this.held = false;
        client.end().catch(() => undefined);
      }
      throw err;
    }
  }

  private async session(): Promise<pg.Client> {
    if (this.client) return this.client;
    this.connecting ??= (async () => {
      const client = new pg.Client({
        connectionString: withoutApplicationName(this.config.databaseUrl, this.config.applicationName),
        application_name: this.config.applicationName,
        query_timeout: this.config.queryTimeoutMs,
        connectionTimeoutMillis: this.config.queryTimeoutMs,
      });
      // A broken session has lost the lock: forget it, and the next call reconnects.
      client.on("error", () => {
        if (this.client === client) {
          this.client = null;
          this.held = false;
        }
      });
      client.on("end", () => {
        if (this.client === client) {
          this.client = null;
          this.held = false;
        }
      });
      try {
        await client.connect();
        if (this.config.schema) await client.query(`SET search_path TO ${pg.escapeIdentifier(this.config.schema)}`);
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      this.client = client;
      return client;
    })().finally(() => (this.connecting = null));
    return this.connecting;
  }
}

/** PGlite: one process per database, so the lock is always ours; the row works as on Postgres. */
export class EmbeddedLeaderLock extends LeaderRowStatements implements LeaderLock {
  constructor(private readonly knex: Knex) {
    super();
  }

  async tryAcquire(): Promise<boolean> {
    return true;
  }

  async terminate(): Promise<number> {
    return 0;
  }

  async reset(): Promise<void> {}

  protected async query(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    const result = (await this.knex.raw(sql, params as Knex.RawBinding[])) as { rows?: Record<string, unknown>[] };
    return result.rows ?? [];
  }
}
