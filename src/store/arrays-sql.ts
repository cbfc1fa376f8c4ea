// SQL for job arrays and dependency targets. An array's elements share everything but their id and
// index, so they are inserted by ONE statement that takes the shared fields once and the (id, index)
// pairs as a list: 100,000 elements are ~5 MB of json instead of a full row each.
import type { TargetStatus } from "../core/dependencies.js";
import type { Task, TaskState } from "../core/types.js";
import type { DependencyTargetRow, ArrayElementsInsert } from "./store-types.js";
import { queryRows, type Db } from "./sql-util.js";
import { rowToTask, TASK_COLUMNS, type TaskRow } from "./tasks-sql.js";
import { batchStatement, type BatchStatement } from "./write-script.js";

/** The one json parameter of the statement: the shared fields and the elements. */
function arrayParam(insert: ArrayElementsInsert): string {
  const t = insert.template;
  return JSON.stringify({
    t: {
      spec: t.spec,
      spec_hash: t.specHash,
      queue_class: t.spec.queueClass,
      priority: t.spec.priority,
      project: t.spec.project,
      labels: t.spec.labels,
      created_at_ms: t.createdAtMs,
      deadline_ms: t.deadlineMs,
      trace_parent: t.traceParent ?? null,
      array_id: t.arrayId,
      actor: insert.actor,
    },
    e: insert.elements.map((e) => ({ id: e.id, i: e.index })),
  });
}

const FROM_PARAM = `FROM (SELECT ?::json AS j) AS p
     CROSS JOIN LATERAL json_to_record(p.j->'t') AS t(spec jsonb, spec_hash text, queue_class text,
       priority text, project text, labels jsonb, created_at_ms bigint, deadline_ms bigint,
       trace_parent text, array_id text, actor text)
     CROSS JOIN LATERAL json_to_recordset(p.j->'e') AS e(id text, i int)`;

/**
 * The elements' rows (QUEUED, no attempt, no idempotency key). Their QUEUED events are not stored:
 * each row carries its submitter (queued_by) and the event is derived from it when read
 * (events-sql.ts), which halves an array's write (issue 17).
 */
export function insertArrayElements(insert: ArrayElementsInsert): BatchStatement[] {
  return [
    batchStatement(
      `INSERT INTO tasks (id, spec, spec_hash, state, queue_class, priority, project, labels, progress,
         progress_message, created_at_ms, updated_at_ms, deadline_ms, current_attempt_id, attempt_count,
         result, idempotency_key, trace_parent, retries_used, requeues, not_before_ms, array_id, array_index, queued_by)
       SELECT e.id, t.spec, t.spec_hash, 'QUEUED', t.queue_class, t.priority, t.project, t.labels, 0,
         '', t.created_at_ms, t.created_at_ms, t.deadline_ms, NULL, 0,
         NULL, NULL, t.trace_parent, 0, 0, NULL, t.array_id, e.i, t.actor
       ${FROM_PARAM}`,
      arrayParam(insert),
    ),
  ];
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
  const arrays = await queryRows<{ array_id: string; project: string; total: number | string; succeeded: number | string; failed: number | string }>(
    db,
    `SELECT array_id, min(project) AS project, count(*) AS total,
       count(*) FILTER (WHERE state = 'SUCCEEDED') AS succeeded,
       count(*) FILTER (WHERE state IN ('FAILED', 'CANCELED')) AS failed
     FROM tasks WHERE array_id IN (SELECT json_array_elements_text(?::json))
     GROUP BY array_id`,
    [JSON.stringify(rest)],
  );
  for (const r of arrays) {
    const status: TargetStatus = { kind: "array", total: Number(r.total), succeeded: Number(r.succeeded), failed: Number(r.failed) };
    found.push({ id: r.array_id, project: r.project, status });
  }
  return found;
}
