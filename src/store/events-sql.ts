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
     SELECT x.task_id, x.state, x.progress, x.progress_message, x.time_ms, x.attempt_id, x.worker_id, x.result::jsonb, x.actor
     FROM json_to_recordset(?::json) AS x(ord int, task_id text, state text, progress float8,
       progress_message text, time_ms bigint, attempt_id text, worker_id text, result json, actor text)
     ORDER BY x.ord`,
    jsonParam(rows),
  );
}

/**
 * A task's events in order. Two kinds are not stored but derived from the rows that record them
 * (migrations 0012 and 0013): the QUEUED event of its submission from the task row (`queued_by`),
 * first of all, and each attempt's ASSIGNED event from the attempt row (`assigned_by`, at
 * assigned_at_ms). Stored events keep insertion order (their serial id); see placeAssigned.
 */
export async function selectEventsForTask(db: Db, taskId: string): Promise<TaskEvent[]> {
  const rows = await queryRows<EventRow & { source: "submitted" | "assigned" | "stored"; attempt_number: number | null }>(
    db,
    `SELECT * FROM (
       SELECT 'submitted' AS source, 0::bigint AS ord, NULL::int AS attempt_number, id AS task_id, 'QUEUED' AS state,
         0::float8 AS progress, '' AS progress_message, created_at_ms AS time_ms, NULL::text AS attempt_id,
         NULL::text AS worker_id, NULL::jsonb AS result, queued_by AS actor
       FROM tasks WHERE id = ? AND queued_by IS NOT NULL
       UNION ALL
       SELECT 'assigned', number, number, task_id, 'ASSIGNED', 0, '', assigned_at_ms, id, worker_id, NULL, assigned_by
       FROM attempts WHERE task_id = ? AND assigned_by IS NOT NULL
       UNION ALL
       SELECT 'stored', e.id, a.number, e.task_id, e.state, e.progress, e.progress_message, e.time_ms, e.attempt_id,
         e.worker_id, e.result, e.actor
       FROM task_events AS e LEFT JOIN attempts AS a ON a.id = e.attempt_id WHERE e.task_id = ?
     ) AS e ORDER BY source DESC, ord`,
    [taskId, taskId, taskId],
  );
  // ORDER BY source DESC: submitted, then stored by id, then assigned by attempt number.
  const submitted = rows.filter((r) => r.source === "submitted");
  const stored = rows.filter((r) => r.source === "stored").map((r) => ({ event: rowToEvent(r), attemptNumber: r.attempt_number ?? 0 }));
  const assigned = rows.filter((r) => r.source === "assigned").map((r) => ({ event: rowToEvent(r), attemptNumber: r.attempt_number ?? 0 }));
  return [...submitted.map(rowToEvent), ...placeAssigned(stored, assigned)];
}

interface NumberedEvent {
  event: TaskEvent;
  /** The number of the attempt the event is about; 0 for none. */
  attemptNumber: number;
}

/**
 * Merges derived ASSIGNED events (ascending attempt number) into the stored ones (insertion order):
 * each goes before the first stored event of its own or a later attempt (nothing of an attempt
 * precedes its assignment, whatever the clocks say) or any later in time; so the requeue of the
 * previous attempt, at the same millisecond, stays before it.
 */
export function placeAssigned(stored: readonly NumberedEvent[], assigned: readonly NumberedEvent[]): TaskEvent[] {
  const out: TaskEvent[] = [];
  let next = 0;
  for (const a of assigned) {
    while (
      next < stored.length &&
      stored[next].attemptNumber < a.attemptNumber &&
      (stored[next].attemptNumber > 0 || stored[next].event.timeMs <= a.event.timeMs)
    ) {
      out.push(stored[next++].event);
    }
    out.push(a.event);
  }
  for (; next < stored.length; next++) out.push(stored[next].event);
  return out;
}
