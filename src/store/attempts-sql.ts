// SQL for the attempts table: one row per try of a task on a worker, with the placement decision
// that chose the worker (kept so any placement can be explained after the fact).
import type { Attempt, TaskResult } from "../core/types.js";
import type { RunningRecord } from "./store-types.js";
import { ACTIVE_TASK_CONDITION } from "./tasks-sql.js";
import { everyRowUpdated, jsonParam, queryRows, toNumber, toNumberOrNull, type Db } from "./sql-util.js";
import { batchStatement, type BatchStatement } from "./batch-statement.js";
import { decisionFromStored, storedDecision } from "./stored-decision.js";
import { resultFromStored, storedResult } from "./stored-result.js";

interface AttemptRow {
  id: string;
  task_id: string;
  number: number;
  worker_id: string;
  gpu_indexes: number[];
  assigned_at_ms: number | string;
  started_at_ms: number | string | null;
  finished_at_ms: number | string | null;
  /** Positional (stored-result.ts), or an object in rows written before it. */
  result: unknown;
  /** Positional (stored-decision.ts), or an object in rows written before it. */
  decision: unknown;
  borrowed: boolean;
}

const ATTEMPT_COLUMNS = `a.id, a.task_id, a.number, a.worker_id, a.gpu_indexes, a.assigned_at_ms, a.started_at_ms,
  a.finished_at_ms, a.result, a.decision, a.borrowed`;

function rowToAttempt(row: AttemptRow): Attempt {
  return {
    id: row.id,
    taskId: row.task_id,
    number: row.number,
    workerId: row.worker_id,
    gpuIndexes: row.gpu_indexes,
    assignedAtMs: toNumber(row.assigned_at_ms),
    startedAtMs: toNumberOrNull(row.started_at_ms),
    finishedAtMs: toNumberOrNull(row.finished_at_ms),
    result: resultFromStored(row.result),
    decision: decisionFromStored(row.decision),
    // Only a borrowing attempt carries the flag (a record compares equal to the one written).
    ...(row.borrowed ? { borrowed: true } : {}),
  };
}

/**
 * `assignedBy` and `running`: the attempt's ASSIGNED and RUNNING events, which its row then records
 * (derived when the task's history is read, events-sql.ts); absent: stored as event rows.
 */
export function insertAttempts(inserts: ReadonlyArray<{ attempt: Attempt; assignedBy?: string; running?: RunningRecord }>): BatchStatement {
  const rows = inserts.map(({ attempt: a, assignedBy, running }) => ({
    id: a.id,
    task_id: a.taskId,
    number: a.number,
    worker_id: a.workerId,
    gpu_indexes: a.gpuIndexes,
    assigned_at_ms: a.assignedAtMs,
    started_at_ms: a.startedAtMs,
    finished_at_ms: a.finishedAtMs,
    result: storedResult(a.result),
    decision: storedDecision(a.decision),
    borrowed: a.borrowed === true,
    assigned_by: assignedBy ?? null,
    running_at_ms: running?.atMs ?? null,
    running_by: running?.by ?? null,
  }));
  return batchStatement(
    `INSERT INTO attempts (id, task_id, number, worker_id, gpu_indexes, assigned_at_ms, started_at_ms,
       finished_at_ms, result, decision, borrowed, assigned_by, running_at_ms, running_by)
     SELECT id, task_id, number, worker_id, gpu_indexes::jsonb, assigned_at_ms, started_at_ms, finished_at_ms,
       result::jsonb, decision::jsonb, borrowed, assigned_by, running_at_ms, running_by
     FROM json_to_recordset(?::json) AS x(id text, task_id text, number int, worker_id text,
       gpu_indexes json, assigned_at_ms bigint, started_at_ms bigint, finished_at_ms bigint,
       result json, decision json, borrowed boolean, assigned_by text, running_at_ms bigint, running_by text)`,
    jsonParam(rows),
  );
}

/** A partial update: a field left undefined keeps its stored value. */
export interface AttemptUpdate {
  attemptId: string;
  startedAtMs?: number | null;
  finishedAtMs?: number | null;
  result?: TaskResult | null;
  /** The attempt's RUNNING event, which the row then records (see insertAttempts). */
  running?: RunningRecord;
}

/**
 * One UPDATE for many attempts (distinct ids). Partial updates of different shapes share the
 * statement through per-field "set_*" flags, so a batch never needs one statement per shape.
 */
export function updateAttempts(updates: readonly AttemptUpdate[]): BatchStatement {
  const rows = updates.map((u) => ({
    id: u.attemptId,
    set_started: u.startedAtMs !== undefined,
    started_at_ms: u.startedAtMs ?? null,
    set_finished: u.finishedAtMs !== undefined,
    finished_at_ms: u.finishedAtMs ?? null,
    set_result: u.result !== undefined,
    result: storedResult(u.result ?? null),
    // Set, or kept (NULL: COALESCE keeps the stored value; the record is never unset).
    running_at_ms: u.running?.atMs ?? null,
    running_by: u.running?.by ?? null,
  }));
  return batchStatement(
    `UPDATE attempts AS a SET
       started_at_ms = CASE WHEN x.set_started THEN x.started_at_ms ELSE a.started_at_ms END,
       finished_at_ms = CASE WHEN x.set_finished THEN x.finished_at_ms ELSE a.finished_at_ms END,
       result = CASE WHEN x.set_result THEN x.result::jsonb ELSE a.result END,
       running_at_ms = COALESCE(x.running_at_ms, a.running_at_ms),
       running_by = COALESCE(x.running_by, a.running_by)
     FROM json_to_recordset(?::json) AS x(id text, set_started boolean, started_at_ms bigint,
       set_finished boolean, finished_at_ms bigint, set_result boolean, result json,
       running_at_ms bigint, running_by text)
     WHERE a.id = x.id
     RETURNING a.id`,
    jsonParam(rows),
    everyRowUpdated(
      "attempt",
      rows.map((r) => r.id),
    ),
  );
}

/** A task's attempts in the order they were made. */
export async function selectAttemptsForTask(db: Db, taskId: string): Promise<Attempt[]> {
  const rows = await queryRows<AttemptRow>(db, `SELECT ${ATTEMPT_COLUMNS} FROM attempts AS a WHERE a.task_id = ? ORDER BY a.number, a.id`, [taskId]);
  return rows.map(rowToAttempt);
}

/** One attempt by id, or null. */
export async function selectAttempt(db: Db, attemptId: string): Promise<Attempt | null> {
  const rows = await queryRows<AttemptRow>(db, `SELECT ${ATTEMPT_COLUMNS} FROM attempts AS a WHERE a.id = ?`, [attemptId]);
  return rows.length === 0 ? null : rowToAttempt(rows[0]);
}

/** The current attempt of every active task (what the master must re-adopt or requeue on start). */
export async function selectCurrentAttemptsOfActiveTasks(db: Db): Promise<Attempt[]> {
  const rows = await queryRows<AttemptRow>(
    db,
    `SELECT ${ATTEMPT_COLUMNS} FROM tasks AS t JOIN attempts AS a ON a.id = t.current_attempt_id
     WHERE t.${ACTIVE_TASK_CONDITION}
     ORDER BY a.assigned_at_ms, a.id`,
  );
  return rows.map(rowToAttempt);
}
