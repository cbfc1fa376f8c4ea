// SQL for task_events: the append-only history of each task (also what WatchTasks replays).
// Events are ordered by their bigserial id, which follows insertion order.
import type { TaskEvent, TaskResult, TaskState } from "../core/types.js";
import { jsonParam, queryRows, toNumber, type Db } from "./sql-util.js";
import { batchStatement, type BatchStatement } from "./write-script.js";

interface EventRow {
  task_id: string;
  state: TaskState;
  progress: number;
  progress_message: string;
  time_ms: number | string;
  attempt_id: string | null;
  worker_id: string | null;
  result: TaskResult | null;
  actor: string;
}

function rowToEvent(row: EventRow): TaskEvent {
  return {
    taskId: row.task_id,
    state: row.state,
    progress: Number(row.progress),
    progressMessage: row.progress_message,
    timeMs: toNumber(row.time_ms),
    attemptId: row.attempt_id ?? "",
    workerId: row.worker_id ?? "",
    result: row.result,
    actor: row.actor,
  };
}

/**
 * Appends events in array order: each row carries its index (`ord`) and the SELECT is ordered by
 * it, so the serial ids follow the array and a task's history reads back in the order the master
 * produced it. (WITH ORDINALITY cannot be combined with json_to_recordset's column list.)
 */
export function insertEvents(events: readonly TaskEvent[]): BatchStatement {
  const rows = events.map((e, ord) => ({
    ord,
    task_id: e.taskId,
    state: e.state,
    progress: e.progress,
    progress_message: e.progressMessage,
    time_ms: e.timeMs,
    // "" (no attempt / no worker yet) is stored as NULL.
    attempt_id: e.attemptId === "" ? null : e.attemptId,
    worker_id: e.workerId === "" ? null : e.workerId,
    result: e.result,
    actor: e.actor,
  }));
  return batchStatement(
    `INSERT INTO task_events (task_id, state, progress, progress_message, time_ms, attempt_id, worker_id, result, actor)
     SELECT x.task_id, x.state, x.progress, x.progress_message, x.time_ms, x.attempt_id, x.worker_id, x.result, x.actor
     FROM json_to_recordset(?::json) AS x(ord int, task_id text, state text, progress float8,
       progress_message text, time_ms bigint, attempt_id text, worker_id text, result jsonb, actor text)
     ORDER BY x.ord`,
    jsonParam(rows),
  );
}

/**
 * A task's events in order. An element of a job array beyond its first has no stored QUEUED event
 * (migration 0012): its row's queued_by stands for it, derived here ahead of the stored ones.
 */
export async function selectEventsForTask(db: Db, taskId: string): Promise<TaskEvent[]> {
  const rows = await queryRows<EventRow>(
    db,
    `SELECT task_id, state, progress, progress_message, time_ms, attempt_id, worker_id, result, actor FROM (
       SELECT 0 AS derived_first, 0::bigint AS ord, id AS task_id, 'QUEUED' AS state, 0::float8 AS progress,
         '' AS progress_message, created_at_ms AS time_ms, NULL::text AS attempt_id, NULL::text AS worker_id,
         NULL::jsonb AS result, queued_by AS actor
       FROM tasks WHERE id = ? AND queued_by IS NOT NULL
       UNION ALL
       SELECT 1, id, task_id, state, progress, progress_message, time_ms, attempt_id, worker_id, result, actor
       FROM task_events WHERE task_id = ?
     ) AS e ORDER BY derived_first, ord`,
    [taskId, taskId],
  );
  return rows.map(rowToEvent);
}
