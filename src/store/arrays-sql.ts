// SQL for job arrays and dependency targets. An array is a record (task_arrays: its template, size,
// how many elements exist, whether it was canceled) and element rows created a chunk at a time
// (src/core/array-elements.ts). A chunk's elements share everything but their id and index, so they
// are inserted by ONE statement that takes the shared fields once and the (id, index) pairs as a list.
import type { TargetStatus } from "../core/dependencies.js";
import type { Task, TaskSpec, TaskState } from "../core/types.js";
import type { DependencyTargetRow, ArrayElementsInsert } from "./store-types.js";
import { queryRows, type Db } from "./sql-util.js";
import { rowToTask, TASK_COLUMNS, type TaskRow } from "./tasks-sql.js";
import type { RowOpOf } from "./write-kinds.js";
import { batchStatement, expectRows, type BatchStatement } from "./batch-statement.js";
import { specFromStored, storedSpec } from "./stored-spec.js";

/** The fields an array's elements share (the `t` of the statements' json parameter). */
function sharedFields(template: Task, actor: string) {
  return {
    spec: storedSpec(template.spec),
    spec_hash: template.specHash,
    queue_class: template.spec.queueClass,
    priority: template.spec.priority,
    project: template.spec.project,
    labels: template.spec.labels,
    created_at_ms: template.createdAtMs,
    deadline_ms: template.deadlineMs,
    trace_parent: template.traceParent ?? null,
    array_id: template.arrayId,
    actor,
  };
}

const FROM_PARAM = `FROM (SELECT ?::json AS j) AS p
     CROSS JOIN LATERAL json_to_record(p.j->'t') AS t(spec json, spec_hash text, queue_class text,
       priority text, project text, labels json, created_at_ms bigint, deadline_ms bigint,
       trace_parent text, array_id text, actor text)`;

/**
 * The elements' rows (QUEUED, no attempt, no idempotency key). Their QUEUED events are not stored:
 * each row carries its submitter (queued_by) and the event is derived from it when read
 * (events-sql.ts), which halves an array's write (issue 17).
 */
function insertElements(template: Task, actor: string, elements: ReadonlyArray<{ id: string; index: number }>): BatchStatement {
  return batchStatement(
    `INSERT INTO tasks (id, spec, spec_hash, state, queue_class, priority, project, labels, progress,
       progress_message, created_at_ms, updated_at_ms, deadline_ms, current_attempt_id, attempt_count,
       result, idempotency_key, trace_parent, retries_used, requeues, not_before_ms, array_id, array_index, queued_by)
     SELECT e.id, t.spec::jsonb, t.spec_hash, 'QUEUED', t.queue_class, t.priority, t.project, t.labels::jsonb, 0,
       '', t.created_at_ms, t.created_at_ms, t.deadline_ms, NULL, 0,
       NULL, NULL, t.trace_parent, 0, 0, NULL, t.array_id, e.i, t.actor
     ${FROM_PARAM}
     CROSS JOIN LATERAL json_to_recordset(p.j->'e') AS e(id text, i int)`,
    JSON.stringify({ t: sharedFields(template, actor), e: elements.map((e) => ({ id: e.id, i: e.index })) }),
  );
}

/**
 * At submission: the array's record (its template: the first element's shared fields) and its
 * elements beyond the first (the first is an ordinary task insert: it carries the idempotency key).
 */
export function insertArrayElements(insert: ArrayElementsInsert): BatchStatement[] {
  const record = batchStatement(
    `INSERT INTO task_arrays (array_id, project, spec, spec_hash, created_at_ms, deadline_ms, trace_parent, queued_by, total, created)
     SELECT t.array_id, t.project, t.spec::jsonb, t.spec_hash, t.created_at_ms, t.deadline_ms, t.trace_parent, t.actor,
       (p.j->>'total')::int, (p.j->>'created')::int
     ${FROM_PARAM}`,
    JSON.stringify({ t: sharedFields(insert.template, insert.actor), total: insert.total, created: insert.elements.length + 1 }),
  );
  return insert.elements.length === 0 ? [record] : [record, insertElements(insert.template, insert.actor, insert.elements)];
}

/**
 * Later elements of an array (ArrayElementsCreator): their rows, and the record's count moved from
 * `fromCreated` on. The count is checked: a second creator of the same elements (which the unique
 * (array_id, array_index) index would also refuse) or an array canceled meanwhile fails the batch.
 */
export function createArrayElements(ops: ReadonlyArray<RowOpOf<"create_array_elements">>): BatchStatement[] {
  const out: BatchStatement[] = [];
  for (const op of ops) {
    out.push(insertElements(op.template, op.actor, op.elements));
    const arrayId = op.template.arrayId ?? "";
    out.push(
      batchStatement(
        `UPDATE task_arrays SET created = (p.j->>'to')::int FROM (SELECT ?::json AS j) AS p
         WHERE array_id = p.j->>'id' AND created = (p.j->>'from')::int AND canceled_at_ms IS NULL RETURNING array_id`,
        JSON.stringify({ id: arrayId, from: op.fromCreated, to: op.fromCreated + op.elements.length }),
        expectRows(1, (rows) => {
          if (rows.length !== 1) throw new Error(`array ${arrayId}: elements from position ${op.fromCreated} were created already, or it was canceled`);
        }),
      ),
    );
  }
  return out;
}

/** Arrays canceled: no element is created any more, and the ones never created count as canceled. */
export function cancelArrays(ops: ReadonlyArray<RowOpOf<"cancel_array">>): BatchStatement {
  return batchStatement(
    `UPDATE task_arrays a SET canceled_at_ms = c.at_ms, cancel_reason = c.reason
     FROM json_to_recordset(?::json) AS c(id text, at_ms bigint, reason text)
     WHERE a.array_id = c.id AND a.canceled_at_ms IS NULL`,
    JSON.stringify(ops.map((op) => ({ id: op.arrayId, at_ms: op.canceledAtMs, reason: op.reason }))),
  );
}

/** An array's record, as stored. */
export interface ArrayRecordRow {
  arrayId: string;
  template: Task;
  actor: string;
  total: number;
  created: number;
  canceled: boolean;
  /** Elements created that have ended (for open arrays; 0 where not counted). */
  ended: number;
}

interface TaskArrayRow {
  array_id: string;
  project: string;
  spec: Partial<TaskSpec> | string;
  spec_hash: string;
  created_at_ms: number | string;
  deadline_ms: number | string | null;
  trace_parent: string | null;
  queued_by: string;
  total: number;
  created: number;
  canceled_at_ms: number | string | null;
  ended?: number | string;
}

function toArrayRecord(r: TaskArrayRow): ArrayRecordRow {
  const spec = specFromStored(typeof r.spec === "string" ? (JSON.parse(r.spec) as Partial<TaskSpec>) : r.spec);
  const createdAtMs = Number(r.created_at_ms);
  const template: Task = {
    id: "",
    spec,
    state: "QUEUED",
    progress: 0,
    progressMessage: "",
    createdAtMs,
    updatedAtMs: createdAtMs,
    deadlineMs: r.deadline_ms === null ? null : Number(r.deadline_ms),
    currentAttemptId: null,
    attemptCount: 0,
    result: null,
    specHash: r.spec_hash,
    deadlineMissed: false,
    retriesUsed: 0,
    requeues: 0,
    notBeforeMs: null,
    arrayId: r.array_id,
    ...(r.trace_parent ? { traceParent: r.trace_parent } : {}),
  };
  return {
    arrayId: r.array_id,
    template,
    actor: r.queued_by,
    total: Number(r.total),
    created: Number(r.created),
    canceled: r.canceled_at_ms !== null,
    ended: Number(r.ended ?? 0),
  };
}

const ARRAY_COLUMNS = `a.array_id, a.project, a.spec, a.spec_hash, a.created_at_ms, a.deadline_ms, a.trace_parent, a.queued_by, a.total, a.created, a.canceled_at_ms`;

/** The arrays still creating elements (not all created, not canceled), with their ended elements counted: what a new leader resumes. */
export async function selectOpenArrays(db: Db): Promise<ArrayRecordRow[]> {
  const rows = await queryRows<TaskArrayRow>(
    db,
    `SELECT ${ARRAY_COLUMNS},
       (SELECT count(*) FROM tasks t WHERE t.array_id = a.array_id AND t.state IN ('SUCCEEDED', 'FAILED', 'CANCELED')) AS ended
     FROM task_arrays a WHERE a.created < a.total AND a.canceled_at_ms IS NULL`,
    [],
  );
  return rows.map(toArrayRecord);
}

/** One array's record, or null. */
export async function selectArrayRecord(db: Db, arrayId: string): Promise<ArrayRecordRow | null> {
  const rows = await queryRows<TaskArrayRow>(db, `SELECT ${ARRAY_COLUMNS} FROM task_arrays a WHERE a.array_id = ?`, [arrayId]);
  return rows.length === 0 ? null : toArrayRecord(rows[0]);
}

export async function selectArrayElement(db: Db, arrayId: string, index: number): Promise<Task | null> {
  const rows = await queryRows<TaskRow>(db, `SELECT ${TASK_COLUMNS} FROM tasks WHERE array_id = ? AND array_index = ?`, [arrayId, index]);
  return rows.length === 0 ? null : rowToTask(rows[0]);
}

/**
 * The tasks with these ids, then the job arrays with these ids (elements counted by outcome). Ids
 * are passed as one json list (knex would expand a JS array into one parameter per id).
 */
export async function selectDependencyTargets(db: Db, ids: readonly string[]): Promise<DependencyTargetRow[]> {
  if (ids.length === 0) return [];
  const list = JSON.stringify(ids);
  const tasks = await queryRows<{ id: string; project: string; state: TaskState }>(
    db,
    `SELECT id, project, state FROM tasks WHERE id IN (SELECT json_array_elements_text(?::json))`,
    [list],
  );
  const found: DependencyTargetRow[] = tasks.map((r) => ({ id: r.id, project: r.project, status: { kind: "task", state: r.state } }));
  const isTask = new Set(tasks.map((t) => t.id));
  const rest = ids.filter((id) => !isTask.has(id));
  if (rest.length === 0) return found;
  // An array's size is its record's; indexes never created count as canceled once it is canceled.
  const arrays = await queryRows<{
    array_id: string;
    project: string;
    total: number | string;
    created: number | string;
    canceled_at_ms: number | string | null;
    succeeded: number | string;
    failed: number | string;
  }>(
    db,
    `SELECT a.array_id, a.project, a.total, a.created, a.canceled_at_ms,
       count(t.id) FILTER (WHERE t.state = 'SUCCEEDED') AS succeeded,
       count(t.id) FILTER (WHERE t.state IN ('FAILED', 'CANCELED')) AS failed
     FROM task_arrays a LEFT JOIN tasks t ON t.array_id = a.array_id
     WHERE a.array_id IN (SELECT json_array_elements_text(?::json))
     GROUP BY a.array_id`,
    [JSON.stringify(rest)],
  );
  for (const r of arrays) {
    const never = r.canceled_at_ms === null ? 0 : Number(r.total) - Number(r.created);
    const status: TargetStatus = { kind: "array", total: Number(r.total), succeeded: Number(r.succeeded), failed: Number(r.failed) + never };
    found.push({ id: r.array_id, project: r.project, status });
  }
  return found;
}

/** An array held or released: its record's spec, which the elements it creates later copy. */
export function setArrayHolds(ops: ReadonlyArray<RowOpOf<"set_array_hold">>): BatchStatement {
  return batchStatement(
    `UPDATE task_arrays AS a SET spec = CASE WHEN x.hold THEN a.spec || '{"hold": true}'::jsonb ELSE a.spec - 'hold' END
     FROM json_to_recordset(?::json) AS x(id text, hold boolean)
     WHERE a.array_id = x.id`,
    JSON.stringify(ops.map((op) => ({ id: op.arrayId, hold: op.hold }))),
  );
}
