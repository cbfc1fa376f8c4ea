// SQL for task_events: the append-only history of each task (also what WatchTasks replays).
// Events are ordered by their bigserial id, which follows insertion order.
import type { TaskEvent, TaskState } from "../core/types.js";
import { jsonParam, queryRows, toNumber, type Db } from "./sql-util.js";
import { resultFromStored } from "./stored-result.js";
import { batchStatement, type BatchStatement } from "./batch-statement.js";

interface EventRow {
  task_id: string;
  state: TaskState;
  progress: number;
  progress_message: string;
  time_ms: number | string;
  attempt_id: string | null;
  worker_id: string | null;
  /** An object (stored events), or positional (a derived ending event reads the task row: stored-result.ts). */
  result: unknown;
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
    result: resultFromStored(row.result),
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

type Source = "submitted" | "stored" | "assigned" | "running" | "ended";

/**
 * A task's events in order. Four kinds are not stored but derived from the rows that record them
 * (migrations 0012, 0013 and 0017): the QUEUED event of its submission from the task row
 * (`queued_by`), first of all; each attempt's ASSIGNED event from the attempt row (`assigned_by`, at
 * assigned_at_ms) and its RUNNING event from the same row (`running_by`, at running_at_ms); and the
 * event that ended the task from the task row (`ended_by`, at ended_at_ms, naming the attempt
 * numbered attempt_count), last of all. Stored events keep insertion order (their serial id); see
 * placeDerived.
 */
export async function selectEventsForTask(db: Db, taskId: string): Promise<TaskEvent[]> {
  const rows = await queryRows<EventRow & { source: Source; ord: number | string; attempt_number: number | null }>(
    db,
    `SELECT 'submitted' AS source, 0::bigint AS ord, NULL::int AS attempt_number, id AS task_id, 'QUEUED' AS state,
       0::float8 AS progress, '' AS progress_message, created_at_ms AS time_ms, NULL::text AS attempt_id,
       NULL::text AS worker_id, NULL::jsonb AS result, queued_by AS actor
     FROM tasks WHERE id = ? AND queued_by IS NOT NULL
     UNION ALL
     SELECT 'assigned', number, number, task_id, 'ASSIGNED', 0, '', assigned_at_ms, id, worker_id, NULL, assigned_by
     FROM attempts WHERE task_id = ? AND assigned_by IS NOT NULL
     UNION ALL
     SELECT 'running', number, number, task_id, 'RUNNING', 0, '', running_at_ms, id, worker_id, NULL, running_by
     FROM attempts WHERE task_id = ? AND running_by IS NOT NULL
     UNION ALL
     SELECT 'ended', 0, a.number, t.id, t.state, t.progress, t.progress_message, t.ended_at_ms, a.id, a.worker_id,
       t.result, t.ended_by
     FROM tasks AS t LEFT JOIN LATERAL (
       SELECT id, worker_id, number FROM attempts WHERE task_id = t.id AND number = t.attempt_count ORDER BY id LIMIT 1
     ) AS a ON true
     WHERE t.id = ? AND t.ended_by IS NOT NULL
     UNION ALL
     SELECT 'stored', e.id, a.number, e.task_id, e.state, e.progress, e.progress_message, e.time_ms, e.attempt_id,
       e.worker_id, e.result, e.actor
     FROM task_events AS e LEFT JOIN attempts AS a ON a.id = e.attempt_id WHERE e.task_id = ?`,
    [taskId, taskId, taskId, taskId, taskId],
  );
  const of = (source: Source) =>
    rows
      .filter((r) => r.source === source)
      .map((r) => ({ event: rowToEvent(r), attemptNumber: r.attempt_number ?? 0, ord: toNumber(r.ord) }))
      .sort((a, b) => a.ord - b.ord);
  // An attempt's ASSIGNED, then its RUNNING: ascending attempt number, assignment first.
  const derived = [...of("assigned"), ...of("running")].sort((a, b) => a.attemptNumber - b.attemptNumber || (a.event.state === "ASSIGNED" ? -1 : 1));
  return [...of("submitted"), ...placeDerived(of("stored"), derived), ...of("ended")].map((e) => e.event);
}

interface NumberedEvent {
  event: TaskEvent;
  /** The number of the attempt the event is about; 0 for none. */
  attemptNumber: number;
}

/**
 * Merges an attempt's derived events (ASSIGNED, then RUNNING; ascending attempt number) into the
 * stored ones (insertion order): each goes before the first stored event of its own or a later
 * attempt (nothing of an attempt precedes its assignment and start, whatever the clocks say) or any
 * later in time; so the requeue of the previous attempt, at the same millisecond, stays before it.
 * A derived start goes after its own attempt's stored assignment (one made while the task had
 * progress, its start recorded after a report brought it back to 0).
 */
export function placeDerived(stored: readonly NumberedEvent[], derived: readonly NumberedEvent[]): NumberedEvent[] {
  const out: NumberedEvent[] = [];
  let next = 0;
  const before = (s: NumberedEvent, a: NumberedEvent) =>
    s.attemptNumber < a.attemptNumber
      ? s.attemptNumber > 0 || s.event.timeMs <= a.event.timeMs
      : // A derived start follows its attempt's assignment when that one is stored.
        s.attemptNumber === a.attemptNumber && a.event.state === "RUNNING" && s.event.state === "ASSIGNED";
  for (const a of derived) {
    while (next < stored.length && before(stored[next], a)) out.push(stored[next++]);
    out.push(a);
  }
  for (; next < stored.length; next++) out.push(stored[next]);
  return out;
}
