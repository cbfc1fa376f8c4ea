// Applies one group-commit batch inside one transaction: resolves idempotency keys for the
// submissions, then runs every row operation of the batch (successive writes of one row folded
// into one) as a handful of multi-row statements.
import type { Task } from "../core/types.js";
import type { StoreWrite, SubmitOutcome, SubmitRequest } from "./store-types.js";
import { planBatch, type OpGroup, type RowOp } from "./batch-plan.js";
import { coalesceWrites } from "./coalesce-writes.js";
import type { BatchStatement, ScriptSession } from "./write-script.js";
import { idempotencyKeyOf, insertTasks, rowToTask, selectTasksByIdempotencyKeys, updateTaskProgress, updateTaskStates } from "./tasks-sql.js";
import { insertAttempts, updateAttempts } from "./attempts-sql.js";
import { insertEvents } from "./events-sql.js";
import { updateWorkerStatuses, upsertWorkers } from "./workers-sql.js";
import { recordDeadlineMisses, upsertLearning } from "./learning-sql.js";

export type StoreJob = { kind: "submit"; request: SubmitRequest } | { kind: "write"; writes: StoreWrite[] };

/** What a job resolves to: the submission's outcome, or nothing for writes. */
export type StoreJobResult = SubmitOutcome | undefined;

export function rowsOfJob(job: StoreJob): number {
  return job.kind === "submit" ? job.request.tasks.length + job.request.events.length : job.writes.length;
}

export async function applyBatch(session: ScriptSession, jobs: readonly StoreJob[]): Promise<StoreJobResult[]> {
  // One SELECT for every idempotency key in the batch. Keys claimed earlier in the same batch are
  // added to the map as we go, so two submissions with one key in one batch resolve like two in a
  // row. The unique index still backs this up: a concurrent writer outside this process would make
  // the INSERT fail, and the job's solo retry would then see the committed row.
  const keys = new Set<string>();
  for (const job of jobs) {
    if (job.kind !== "submit") continue;
    for (const task of job.request.tasks) {
      const key = idempotencyKeyOf(task);
      if (key !== null) keys.add(key);
    }
  }
  // Skipped when no job has a key (the common case): then the batch is one round trip plus COMMIT.
  const claimed = new Map<string, Task>();
  if (keys.size > 0) {
    const [rows] = await session.run([selectTasksByIdempotencyKeys([...keys])]);
    for (const row of rows) {
      const task = rowToTask(row as unknown as Parameters<typeof rowToTask>[0]);
      claimed.set(task.spec.idempotencyKey, task);
    }
  }

  const ops: RowOp[] = [];
  const results: StoreJobResult[] = [];
  for (const job of jobs) {
    if (job.kind === "write") {
      ops.push(...job.writes);
      results.push(undefined);
      continue;
    }
    const outcome = resolveSubmission(job.request, claimed);
    results.push(outcome);
    if (outcome.kind !== "created") continue;
    for (const task of job.request.tasks) {
      ops.push({ kind: "insert_task", task });
      const key = idempotencyKeyOf(task);
      if (key !== null) claimed.set(key, task);
    }
    for (const event of job.request.events) ops.push({ kind: "append_event", event });
  }

  // Every statement of the batch in one round trip (see write-script.ts); COMMIT is the second.
  await session.run(planBatch(coalesceWrites(ops)).flatMap(statementsOf));
  return results;
}

/**
 * "existing" only for a single-task request whose key maps to a task with the same spec hash (a
 * retried submit). Any other key collision, including one inside a multi-task request or between
 * two tasks of the same request, is a conflict: the request as a whole cannot be honoured.
 */
function resolveSubmission(request: SubmitRequest, claimed: ReadonlyMap<string, Task>): SubmitOutcome {
  const inRequest = new Map<string, string>();
  for (const task of request.tasks) {
    const key = idempotencyKeyOf(task);
    if (key === null) continue;
    const prior = claimed.get(key);
    if (prior) {
      if (request.tasks.length === 1 && prior.specHash === task.specHash) return { kind: "existing", task: prior };
      return { kind: "conflict", idempotencyKey: key, existingTaskId: prior.id };
    }
    const sibling = inRequest.get(key);
    if (sibling !== undefined) return { kind: "conflict", idempotencyKey: key, existingTaskId: sibling };
    inRequest.set(key, task.id);
  }
  return { kind: "created", tasks: request.tasks };
}

/** The statement of one planned group (two for deadline misses: the task and its worker). */
function statementsOf(group: OpGroup): BatchStatement | BatchStatement[] {
  // The planner guarantees every op in a group has group.kind; `pick` narrows the union for TS.
  const pick = <K extends RowOp["kind"]>(kind: K) => group.ops as Extract<RowOp, { kind: K }>[];
  switch (group.kind) {
    case "insert_task":
      return insertTasks(pick("insert_task").map((op) => op.task));
    case "upsert_worker":
      return upsertWorkers(pick("upsert_worker").map((op) => op.worker));
    case "insert_attempt":
      return insertAttempts(pick("insert_attempt").map((op) => op.attempt));
    case "update_attempt":
      return updateAttempts(pick("update_attempt"));
    case "update_task":
      return updateTaskStates(pick("update_task"));
    case "update_progress":
      return updateTaskProgress(pick("update_progress"));
    case "update_worker_status":
      return updateWorkerStatuses(pick("update_worker_status"));
    case "upsert_learning":
      return upsertLearning(pick("upsert_learning").map((op) => op.stats));
    case "record_deadline_miss":
      return recordDeadlineMisses(pick("record_deadline_miss"));
    case "append_event":
      return insertEvents(pick("append_event").map((op) => op.event));
  }
}
