// SQL for the tasks table, one statement per function, plus the row <-> Task mapping.
// The whole TaskSpec lives in `spec` (jsonb); queue_class, priority, project, labels and
// idempotency_key are copies of spec fields kept as columns for filtering and uniqueness.
import { InvalidArgumentError } from "../core/errors.js";
import type { QueueClass, Task, TaskSpec, TaskState } from "../core/types.js";
import type { StoreWrite, TaskFilter } from "./store-types.js";
import type { PageCursor } from "./page-token.js";
import { everyRowUpdated, jsonParam, queryRows, toNumber, toNumberOrNull, type Db } from "./sql-util.js";
import { batchStatement, type BatchStatement } from "./batch-statement.js";
import { specFromStored, storedSpec } from "./stored-spec.js";
import { resultFromStored, storedResult } from "./stored-result.js";

interface TaskRow {
  id: string;
  /** Without its default-valued fields (stored-spec.ts). */
  spec: Partial<TaskSpec>;
  spec_hash: string;
  state: TaskState;
  progress: number;
  progress_message: string;
  created_at_ms: number | string;
  updated_at_ms: number | string;
  deadline_ms: number | string | null;
  current_attempt_id: string | null;
  attempt_count: number;
  /** Positional (stored-result.ts), or an object in rows written before it. */
  result: unknown;
  deadline_missed: boolean;
  trace_parent: string | null;
  retries_used: number;
  requeues: number;
  not_before_ms: number | string | null;
  array_id: string | null;
  array_index: number | null;
}

const TASK_COLUMNS = `id, spec, spec_hash, state, progress, progress_message, created_at_ms, updated_at_ms,
  deadline_ms, current_attempt_id, attempt_count, result, deadline_missed, trace_parent, retries_used, requeues, not_before_ms, array_id, array_index`;

export function rowToTask(row: TaskRow): Task {
  return {
    id: row.id,
    spec: specFromStored(row.spec),
    state: row.state,
    progress: Number(row.progress),
    progressMessage: row.progress_message,
    createdAtMs: toNumber(row.created_at_ms),
    updatedAtMs: toNumber(row.updated_at_ms),
    deadlineMs: toNumberOrNull(row.deadline_ms),
    currentAttemptId: row.current_attempt_id,
    attemptCount: row.attempt_count,
    result: resultFromStored(row.result),
    specHash: row.spec_hash,
    deadlineMissed: row.deadline_missed === true,
    retriesUsed: row.retries_used ?? 0,
    requeues: row.requeues ?? 0,
    notBeforeMs: toNumberOrNull(row.not_before_ms),
    // Only when set: a task submitted with tracing off has no such field at all.
    ...(row.trace_parent ? { traceParent: row.trace_parent } : {}),
    // Only for an element of a job array, likewise.
    ...(row.array_id !== null && row.array_id !== undefined ? { arrayId: row.array_id, arrayIndex: row.array_index ?? 0 } : {}),
  };
}

/** An empty idempotency key means "none"; NULL keeps such tasks out of the unique index. */
export function idempotencyKeyOf(task: Task): string | null {
  return task.spec.idempotencyKey === "" ? null : task.spec.idempotencyKey;
}

/** Idempotency keys are unique per project (migration 0006): a key is always matched with its project. */
export interface ProjectIdempotencyKey {
  project: string;
  key: string;
}

/** The task's (project, key) pair, or null when it has no key. */
export function projectIdempotencyKeyOf(task: Task): ProjectIdempotencyKey | null {
  const key = idempotencyKeyOf(task);
  return key === null ? null : { project: task.spec.project, key };
}

/**
 * Inserts submitted tasks. Each row keeps its submitter (`queued_by`), which stands for the task's
 * QUEUED event: that event is derived when the history is read (events-sql.ts), not stored.
 */
export function insertTasks(inserts: ReadonlyArray<{ task: Task; queuedBy: string; endedBy?: string | null }>): BatchStatement {
  // `undefined` where the column is NULL: JSON.stringify leaves the key out and json_to_recordset
  // reads a missing key as NULL, so the parameter carries no `"deadline_ms":null` and the like.
  const rows = inserts.map(({ task: t, queuedBy, endedBy }) => ({
    id: t.id,
    spec: storedSpec(t.spec),
    spec_hash: t.specHash,
    state: t.state,
    queue_class: t.spec.queueClass,
    priority: t.spec.priority,
    project: t.spec.project,
    labels: t.spec.labels,
    progress: t.progress,
    progress_message: t.progressMessage,
    created_at_ms: t.createdAtMs,
    updated_at_ms: t.updatedAtMs,
    deadline_ms: t.deadlineMs ?? undefined,
    current_attempt_id: t.currentAttemptId ?? undefined,
    attempt_count: t.attemptCount,
    result: storedResult(t.result ?? null) ?? undefined,
    idempotency_key: idempotencyKeyOf(t) ?? undefined,
    trace_parent: t.traceParent,
    retries_used: t.retriesUsed,
    requeues: t.requeues,
    not_before_ms: t.notBeforeMs ?? undefined,
    array_id: t.arrayId,
    array_index: t.arrayId === undefined ? undefined : (t.arrayIndex ?? 0),
    queued_by: queuedBy,
    // A task that ends within the batch that inserts it (its update folded in): see updateTaskStates.
    ended_by: endedBy ?? undefined,
  }));
  return batchStatement(
    `INSERT INTO tasks (id, spec, spec_hash, state, queue_class, priority, project, labels, progress,
       progress_message, created_at_ms, updated_at_ms, deadline_ms, current_attempt_id, attempt_count,
       result, idempotency_key, trace_parent, retries_used, requeues, not_before_ms, array_id, array_index, queued_by, ended_by)
     SELECT id, spec::jsonb, spec_hash, state, queue_class, priority, project, labels::jsonb, progress,
       progress_message, created_at_ms, updated_at_ms, deadline_ms, current_attempt_id, attempt_count,
       result::jsonb, idempotency_key, trace_parent, retries_used, requeues, not_before_ms, array_id, array_index, queued_by, ended_by
     FROM json_to_recordset(?::json) AS x(id text, spec json, spec_hash text, state text,
       queue_class text, priority text, project text, labels json, progress float8,
       progress_message text, created_at_ms bigint, updated_at_ms bigint, deadline_ms bigint,
       current_attempt_id text, attempt_count int, result json, idempotency_key text, trace_parent text,
       retries_used int, requeues int, not_before_ms bigint, array_id text, array_index int, queued_by text,
       ended_by text)`,
    jsonParam(rows),
  );
}

/** The fields of an "update_task" write (one shape, defined once in store-types.ts). */
export type TaskStateUpdate = Omit<Extract<StoreWrite, { kind: "update_task" }>, "kind">;

/**
 * One UPDATE for many tasks; ids must be distinct (the caller's batch planner ensures it). The row's
 * `ended_by`, when set, records the event that ended the task (migration 0017, events-sql.ts).
 */
export function updateTaskStates(updates: readonly TaskStateUpdate[]): BatchStatement {
  const rows = updates.map((u) => ({
    id: u.taskId,
    state: u.state,
    updated_at_ms: u.updatedAtMs,
    current_attempt_id: u.currentAttemptId,
    attempt_count: u.attemptCount,
    result: storedResult(u.result),
    retries_used: u.retriesUsed,
    requeues: u.requeues,
    not_before_ms: u.notBeforeMs,
    ended_by: u.endedBy ?? null,
  }));
  return batchStatement(
    `UPDATE tasks AS t SET state = x.state, updated_at_ms = x.updated_at_ms,
       current_attempt_id = x.current_attempt_id, attempt_count = x.attempt_count, result = x.result::jsonb,
       retries_used = x.retries_used, requeues = x.requeues, not_before_ms = x.not_before_ms, ended_by = x.ended_by
     FROM json_to_recordset(?::json) AS x(id text, state text, updated_at_ms bigint,
       current_attempt_id text, attempt_count int, result json, retries_used int, requeues int, not_before_ms bigint,
       ended_by text)
     WHERE t.id = x.id
     RETURNING t.id`,
    jsonParam(rows),
    everyRowUpdated(
      "task",
      rows.map((r) => r.id),
    ),
  );
}

export interface TaskProgressUpdate {
  taskId: string;
  progress: number;
  progressMessage: string;
  updatedAtMs: number;
}

export function updateTaskProgress(updates: readonly TaskProgressUpdate[]): BatchStatement {
  const rows = updates.map((u) => ({
    id: u.taskId,
    progress: u.progress,
    progress_message: u.progressMessage,
    updated_at_ms: u.updatedAtMs,
  }));
  return batchStatement(
    `UPDATE tasks AS t SET progress = x.progress, progress_message = x.progress_message,
       updated_at_ms = x.updated_at_ms
     FROM json_to_recordset(?::json) AS x(id text, progress float8, progress_message text, updated_at_ms bigint)
     WHERE t.id = x.id
     RETURNING t.id`,
    jsonParam(rows),
    everyRowUpdated(
      "task",
      rows.map((r) => r.id),
    ),
  );
}

/**
 * The tasks holding any of `keys`, each matched within its own project (a key used by another
 * project never matches); its rows map to tasks with rowToTask.
 */
export function selectTasksByIdempotencyKeys(keys: readonly ProjectIdempotencyKey[]): BatchStatement {
  const rows = keys.map((k) => ({ project: k.project, idempotency_key: k.key }));
  return batchStatement(
    `SELECT ${TASK_COLUMNS} FROM tasks
     WHERE (project, idempotency_key) IN
       (SELECT x.project, x.idempotency_key FROM json_to_recordset(?::json) AS x(project text, idempotency_key text))`,
    jsonParam(rows),
  );
}

/** The columns and row type, for the other tasks-table module (arrays-sql.ts). */
export { TASK_COLUMNS };
export type { TaskRow };

export async function selectTask(db: Db, taskId: string): Promise<Task | null> {
  const rows = await queryRows<TaskRow>(db, `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`, [taskId]);
  return rows.length === 0 ? null : rowToTask(rows[0]);
}

/**
 * Ids starting with `prefix` (lowercase hex and dashes only, as UUIDs are), at most `limit`, in id
 * order; only tasks of `projects` when given. A range on the primary key (the btree serves it;
 * `LIKE 'p%'` would not without text_pattern_ops) plus the LIKE itself, which keeps the answer
 * exact under any collation.
 */
export async function selectTaskIdsByPrefix(db: Db, prefix: string, projects: readonly string[] | null, limit: number): Promise<string[]> {
  if (!/^[0-9a-f-]+$/.test(prefix)) throw new InvalidArgumentError("task_id", "a prefix is lowercase hex digits and dashes");
  const upper = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const bindings: unknown[] = [prefix, upper, `${prefix}%`];
  let projectCondition = "";
  if (projects !== null) {
    if (projects.length === 0) return [];
    projectCondition = ` AND project IN (${projects.map(() => "?").join(", ")})`;
    bindings.push(...projects);
  }
  const rows = await queryRows<{ id: string }>(db, `SELECT id FROM tasks WHERE id >= ? AND id < ? AND id LIKE ?${projectCondition} ORDER BY id LIMIT ?`, [
    ...bindings,
    limit,
  ]);
  return rows.map((r) => r.id);
}

/**
 * The SQL condition that selects active tasks (not in a terminal state), for every statement that
 * needs them: written as the partial index's predicate (ended_at_ms is generated from the state,
 * migration 0016) so that the planner uses it.
 */
export const ACTIVE_TASK_CONDITION = "ended_at_ms IS NULL";

/** Every task not in a terminal state, oldest first (the order the master re-queues them in). */
export async function selectActiveTasks(db: Db): Promise<Task[]> {
  const rows = await queryRows<TaskRow>(db, `SELECT ${TASK_COLUMNS} FROM tasks WHERE ${ACTIVE_TASK_CONDITION} ORDER BY created_at_ms, id`);
  return rows.map(rowToTask);
}

/**
 * One page, newest first, strictly after `cursor`. Fetches `limit` rows; the caller asks for one
 * more than the page size to learn whether another page exists.
 */
export async function selectTaskPage(db: Db, filter: TaskFilter, limit: number, cursor: PageCursor | null): Promise<Task[]> {
  const where: string[] = [];
  const bindings: unknown[] = [];
  if (filter.states && filter.states.length > 0) {
    where.push(`state IN (${filter.states.map(() => "?").join(", ")})`);
    bindings.push(...filter.states);
  }
  if (filter.queueClass) {
    where.push(`queue_class = ?`);
    bindings.push(filter.queueClass satisfies QueueClass);
  }
  if (filter.project) {
    where.push(`project = ?`);
    bindings.push(filter.project);
  }
  if (filter.arrayId) {
    where.push(`array_id = ?`);
    bindings.push(filter.arrayId);
  }
  if (filter.label) {
    const eq = filter.label.indexOf("=");
    if (eq <= 0) throw new InvalidArgumentError("filter.label", "must be key=value");
    where.push(`labels ->> ? = ?`);
    bindings.push(filter.label.slice(0, eq), filter.label.slice(eq + 1));
  }
  if (cursor) {
    where.push(`(created_at_ms, id) < (?, ?)`);
    bindings.push(cursor.createdAtMs, cursor.id);
  }
  const rows = await queryRows<TaskRow>(
    db,
    `SELECT ${TASK_COLUMNS} FROM tasks
     ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY created_at_ms DESC, id DESC
     LIMIT ?`,
    [...bindings, limit],
  );
  return rows.map(rowToTask);
}

/** Held or released (HoldTask, ReleaseTask): the spec's `hold` set or removed; the spec hash (what was submitted) stays. */
export function setTaskHolds(ops: ReadonlyArray<{ taskId: string; hold: boolean }>): BatchStatement {
  const rows = ops.map((op) => ({ id: op.taskId, hold: op.hold }));
  return batchStatement(
    `UPDATE tasks AS t SET spec = CASE WHEN x.hold THEN t.spec || '{"hold": true}'::jsonb ELSE t.spec - 'hold' END
     FROM json_to_recordset(?::json) AS x(id text, hold boolean)
     WHERE t.id = x.id
     RETURNING t.id`,
    jsonParam(rows),
    everyRowUpdated(
      "task",
      rows.map((r) => r.id),
    ),
  );
}
