// SQL of leadership (migration 0008): the advisory lock that elects one master, the `leader` row
// that carries its epoch, address and lease, and the fence every leader write transaction starts
// with. Times in the row are the database's clock (clock_timestamp), so masters on hosts whose
// clocks disagree still agree on whether a lease ran out.
import { FencedError } from "../core/errors.js";
import { toNumber } from "./sql-util.js";
import type { BatchStatement } from "./batch-statement.js";

/** The database's clock in epoch milliseconds. */
const DB_NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/**
 * The advisory lock's two int4 keys: a constant for Taskgrid and the schema, so that masters of
 * different schemas in one database elect separately (advisory locks are per database already).
 */
const LOCK_CLASS = 7402;
const LOCK_KEYS = `${LOCK_CLASS}, hashtext(current_schema())`;

export const TRY_LOCK_SQL = `SELECT pg_try_advisory_lock(${LOCK_KEYS}) AS locked`;

/**
 * Takes the next epoch; runs only while holding the lock. Its FOR UPDATE row lock conflicts with the
 * FOR KEY SHARE of every write transaction's fence, so it waits for a deposed leader's open write
 * transactions (a plain UPDATE would not: it takes FOR NO KEY UPDATE, which KEY SHARE lets through).
 */
export const CLAIM_SQL = `WITH fenced AS (SELECT id FROM leader WHERE id = 1 FOR UPDATE)
  UPDATE leader SET epoch = epoch + 1, holder = ?, address = ?, lease_ms = ?,
  acquired_at_ms = ${DB_NOW_MS}, renewed_at_ms = ${DB_NOW_MS} WHERE id = (SELECT id FROM fenced) RETURNING epoch, acquired_at_ms`;

/**
 * Extends the lease; no row back means another master has claimed a later epoch. A plain UPDATE of
 * non-key columns (FOR NO KEY UPDATE): it does not wait for the leader's own write transactions,
 * which hold the row FOR KEY SHARE, so a long transaction (a 100,000-task submit) cannot make the
 * lease run out.
 */
export const RENEW_SQL = `UPDATE leader SET renewed_at_ms = ${DB_NOW_MS} WHERE id = 1 AND epoch = ? AND holder = ? RETURNING epoch`;

/** A clean stop ends the lease at once, so a standby need not wait it out. */
export const RESIGN_SQL = `UPDATE leader SET renewed_at_ms = 0 WHERE id = 1 AND epoch = ? AND holder = ?`;

export const READ_SQL = `SELECT epoch, holder, address, acquired_at_ms, renewed_at_ms, lease_ms, ${DB_NOW_MS} AS now_ms FROM leader WHERE id = 1`;

/**
 * Ends every database session of a master whose lease ran out (it is stopped, hung or cut off):
 * the one holding the lock, which frees it, and its pool's, whose open transactions would
 * otherwise hold the row lock that the next claim waits for. Found by application_name (each
 * master names its sessions after its instance id, see applicationNameOf) and by the lock itself.
 */
export const TERMINATE_SQL = `SELECT count(pg_terminate_backend(pid))::int AS terminated FROM pg_stat_activity
  WHERE pid <> pg_backend_pid() AND datname = current_database()
    AND (application_name = ? OR pid IN (
      SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = ${LOCK_CLASS} AND objid = hashtext(current_schema())::oid))`;

/** The application_name of every database session of the master process `instanceId`. */
export function applicationNameOf(instanceId: string): string {
  return `taskgrid-master ${instanceId}`;
}

export interface LeaderRow {
  epoch: number;
  /** Instance id of the master process that holds (or last held) the lead; "" before any. */
  holder: string;
  /** Its advertised address. */
  address: string;
  acquiredAtMs: number;
  /** 0 after a clean resignation. */
  renewedAtMs: number;
  leaseMs: number;
  /** The database's clock when the row was read. */
  nowMs: number;
}

export function rowToLeader(row: Record<string, unknown>): LeaderRow {
  return {
    epoch: toNumber(row.epoch),
    holder: String(row.holder),
    address: String(row.address),
    acquiredAtMs: toNumber(row.acquired_at_ms),
    renewedAtMs: toNumber(row.renewed_at_ms),
    leaseMs: toNumber(row.lease_ms),
    nowMs: toNumber(row.now_ms),
  };
}

/**
 * First statement of every write transaction of a leader: key-share-locks the row and checks the
 * epoch. A claim (FOR UPDATE of the row) therefore waits until this transaction ends, and a
 * transaction that starts after a claim sees the new epoch and is rolled back (its check throws
 * before COMMIT). So nothing a deposed leader writes commits after its successor took over.
 * KEY SHARE, not SHARE: the lease renewal (a plain UPDATE) must not wait for these transactions.
 */
export function fenceStatement(epoch: number): BatchStatement {
  return {
    sql: "SELECT epoch FROM leader WHERE id = 1 FOR KEY SHARE",
    check: {
      verify: (rows) => {
        const current = rows[0] ? toNumber(rows[0].epoch) : null;
        if (current !== epoch) throw new FencedError(epoch, current);
      },
      condition: { sql: "count(*) FILTER (WHERE epoch = ?) = 1", value: epoch },
    },
  };
}
