// SQL for the workers table. A worker row is kept forever (status OFFLINE when gone) so that
// attempts can always name the worker they ran on, and a returning agent keeps its id.
import type { Capacity, Telemetry, Worker, WorkerStatus } from "../core/types.js";
import { everyRowUpdated, jsonParam, queryRows, toNumber, type Db } from "./sql-util.js";
import { batchStatement, type BatchStatement } from "./batch-statement.js";

interface WorkerRow {
  id: string;
  hostname: string;
  tags: string[];
  capacity: Capacity;
  status: WorkerStatus;
  agent_version: string;
  registered_at_ms: number | string;
  last_seen_at_ms: number | string;
  telemetry: Telemetry | null;
  deadline_misses: number;
  drained_at_ms: number | string | null;
  drain_reason: string | null;
}

function rowToWorker(row: WorkerRow): Worker {
  return {
    id: row.id,
    hostname: row.hostname,
    tags: row.tags,
    capacity: row.capacity,
    status: row.status,
    agentVersion: row.agent_version,
    registeredAtMs: toNumber(row.registered_at_ms),
    lastSeenAtMs: toNumber(row.last_seen_at_ms),
    telemetry: row.telemetry,
    deadlineMisses: Number(row.deadline_misses ?? 0),
    // Only a drained worker carries `drain` (a record compares equal to the one that was written).
    ...(row.drained_at_ms !== null ? { drain: { atMs: toNumber(row.drained_at_ms), reason: row.drain_reason ?? "" } } : {}),
  };
}

/** Insert or replace whole worker rows (registration, re-registration, an operator's drain). Ids must be distinct. */
export function upsertWorkers(workers: readonly Worker[]): BatchStatement {
  const rows = workers.map((w) => ({
    id: w.id,
    hostname: w.hostname,
    tags: w.tags,
    capacity: w.capacity,
    status: w.status,
    agent_version: w.agentVersion,
    registered_at_ms: w.registeredAtMs,
    last_seen_at_ms: w.lastSeenAtMs,
    telemetry: w.telemetry,
    drained_at_ms: w.drain?.atMs ?? null,
    drain_reason: w.drain?.reason ?? null,
  }));
  return batchStatement(
    `INSERT INTO workers (id, hostname, tags, capacity, status, agent_version, registered_at_ms,
       last_seen_at_ms, telemetry, drained_at_ms, drain_reason)
     SELECT id, hostname, tags, capacity, status, agent_version, registered_at_ms, last_seen_at_ms, telemetry,
       drained_at_ms, drain_reason
     FROM json_to_recordset(?::json) AS x(id text, hostname text, tags jsonb, capacity jsonb, status text,
       agent_version text, registered_at_ms bigint, last_seen_at_ms bigint, telemetry jsonb,
       drained_at_ms bigint, drain_reason text)
     ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, tags = excluded.tags,
       capacity = excluded.capacity, status = excluded.status, agent_version = excluded.agent_version,
       registered_at_ms = excluded.registered_at_ms, last_seen_at_ms = excluded.last_seen_at_ms,
       telemetry = excluded.telemetry, drained_at_ms = excluded.drained_at_ms, drain_reason = excluded.drain_reason`,
    jsonParam(rows),
  );
}

export interface WorkerStatusUpdate {
  workerId: string;
  status: WorkerStatus;
  lastSeenAtMs: number;
}

export function updateWorkerStatuses(updates: readonly WorkerStatusUpdate[]): BatchStatement {
  const rows = updates.map((u) => ({ id: u.workerId, status: u.status, last_seen_at_ms: u.lastSeenAtMs }));
  return batchStatement(
    `UPDATE workers AS w SET status = x.status, last_seen_at_ms = x.last_seen_at_ms
     FROM json_to_recordset(?::json) AS x(id text, status text, last_seen_at_ms bigint)
     WHERE w.id = x.id
     RETURNING w.id`,
    jsonParam(rows),
    everyRowUpdated(
      "worker",
      rows.map((r) => r.id),
    ),
  );
}

export async function selectWorkers(db: Db): Promise<Worker[]> {
  const rows = await queryRows<WorkerRow>(
    db,
    `SELECT id, hostname, tags, capacity, status, agent_version, registered_at_ms, last_seen_at_ms, telemetry,
       deadline_misses, drained_at_ms, drain_reason
     FROM workers ORDER BY registered_at_ms, id`,
  );
  return rows.map(rowToWorker);
}
