// Applies one group-commit batch inside one transaction: resolves idempotency keys for the
// submissions, then runs every row operation of the batch (successive writes of one row folded
// into one) as a handful of multi-row statements.
import type { Task } from "../core/types.js";
import type { StoreWrite, SubmitOutcome, SubmitRequest } from "./store-types.js";
import { planBatch, type OpGroup, type RowOp } from "./batch-plan.js";
import { coalesceWrites } from "./coalesce-writes.js";
import { rowKey, writeKind } from "./write-kinds.js";
import { insertArrayElements } from "./arrays-sql.js";
import type { BatchStatement } from "./batch-statement.js";
import type { ScriptSession } from "./write-script.js";
import { projectIdempotencyKeyOf, rowToTask, selectTasksByIdempotencyKeys, type ProjectIdempotencyKey } from "./tasks-sql.js";

export type StoreJob = ({ kind: "submit"; request: SubmitRequest } | { kind: "write"; writes: StoreWrite[] }) & {
  /** The leadership epoch the job was made under (store.setFence); only jobs of the current one run. */
  epoch?: number | null;
};

/** What a job resolves to: the submission's outcome, or nothing for writes. */
export type StoreJobResult = SubmitOutcome | undefined;

export function rowsOfJob(job: StoreJob): number {
  if (job.kind !== "submit") return job.writes.length;
  const { tasks, writes = [], arrays = [] } = job.request;
  return tasks.length + writes.length + arrays.reduce((sum, a) => sum + a.elements.length, 0);
}

/**
 * The names of every row a job writes or depends on (group-commit.ts runs two batches at once only
 * on disjoint names): each row operation's rows (write-kinds.ts), read or written alike, so that
 * everything about one task (its events included) stays in one batch at a time, the new tasks of a
 * submission, its arrays' rows and elements, and its idempotency keys (a batch beside another
 * cannot see that one's uncommitted claim).
 */
export function conflictKeysOfJob(job: StoreJob): string[] {
  const keys: string[] = [];
  const { writes = [], tasks = [], arrays = [] } = job.kind === "write" ? { writes: job.writes } : job.request;
  // Plain loops into one array: this runs for every job of a pipelined batch.
  for (const write of writes) addRowKeys(write, keys);
  for (const task of tasks) {
    addRowKeys({ kind: "insert_task", task, queuedBy: "" }, keys);
    const key = projectIdempotencyKeyOf(task);
    if (key !== null) keys.push(`idempotency:${claimKeyOf(key)}`);
  }
  for (const array of arrays) {
    if (array.template.arrayId) keys.push(rowKey("task_arrays", array.template.arrayId));
    for (const element of array.elements) keys.push(rowKey("tasks", element.id));
  }
  return keys;
}

/** Every row the op names, however it touches it. */
function addRowKeys(op: RowOp, keys: string[]): void {
  const { inserts, updates, references } = writeKind(op.kind).rows(op);
  if (inserts) for (const key of inserts) keys.push(key);
  if (updates) for (const key of updates) keys.push(key);
  if (references) for (const key of references) keys.push(key);
}

/**
 * The map key of a (project, key) pair. Idempotency keys are scoped per project, so every lookup
 * goes through the pair; JSON keeps it unambiguous whatever characters either part holds.
 */
function claimKeyOf(key: ProjectIdempotencyKey): string {
  return JSON.stringify([key.project, key.key]);
}

export async function applyBatch(session: ScriptSession, jobs: readonly StoreJob[]): Promise<StoreJobResult[]> {
  // One SELECT for every (project, idempotency key) in the batch. Keys claimed earlier in the same
  // batch are added to the map as we go, so two submissions with one key in one project and batch
  // resolve like two in a row; the same key in another project is another entry. The unique index
  // on (project, idempotency_key) still backs this up: a concurrent writer outside this process
  // would make the INSERT fail, and the job's solo retry would then see the committed row.
  const keys = new Map<string, ProjectIdempotencyKey>();
  for (const job of jobs) {
    if (job.kind !== "submit") continue;
    for (const task of job.request.tasks) {
      const key = projectIdempotencyKeyOf(task);
      if (key !== null) keys.set(claimKeyOf(key), key);
    }
  }
  // Skipped when no job has a key (the common case): then the batch is one round trip, COMMIT included.
  const claimed = new Map<string, Task>();
  if (keys.size > 0) {
    const [rows] = await session.run([selectTasksByIdempotencyKeys([...keys.values()])]);
    for (const row of rows) {
      const task = rowToTask(row as unknown as Parameters<typeof rowToTask>[0]);
      const key = projectIdempotencyKeyOf(task);
      if (key !== null) claimed.set(claimKeyOf(key), task);
    }
  }

  const ops: RowOp[] = [];
  // After the planned statements: they insert every array's first element, which no other op reads
  // (the record copies its shared fields from the json, not from that row).
  const arrayStatements: BatchStatement[] = [];
  const results: StoreJobResult[] = [];
  for (const job of jobs) {
    if (job.kind === "write") {
      for (const write of job.writes) ops.push(write); // not push(...): a job may hold 100,000s (an array's cancel)
      results.push(undefined);
      continue;
    }
    const outcome = resolveSubmission(job.request, claimed);
    results.push(outcome);
    if (outcome.kind !== "created") continue;
    for (const task of job.request.tasks) {
      ops.push({ kind: "insert_task", task, queuedBy: job.request.actor });
      const key = projectIdempotencyKeyOf(task);
      if (key !== null) claimed.set(claimKeyOf(key), task);
    }
    for (const write of job.request.writes ?? []) ops.push(write);
    for (const array of job.request.arrays ?? []) arrayStatements.push(...insertArrayElements(array));
  }

  // Every statement of the batch and COMMIT in one round trip (see write-script.ts).
  await session.runAndCommit([...planBatch(coalesceWrites(ops)).flatMap(statementsOf), ...arrayStatements]);
  return results;
}

/**
 * "existing" for a retried request: every task of it has a key, and each key maps to a task of the
 * same project with the same spec hash (the tasks the first try made, returned in request order; a
 * whole DAG or batch retried after an unknown outcome). Any other key collision within one project
 * (a different spec, a request only partly made before, two tasks of one request sharing a key) is
 * a conflict: the request as a whole cannot be honoured. A key held only in other projects is no
 * collision.
 */
function resolveSubmission(request: SubmitRequest, claimed: ReadonlyMap<string, Task>): SubmitOutcome {
  const inRequest = new Map<string, string>();
  const priors: Task[] = [];
  let collision: { idempotencyKey: string; existingTaskId: string } | null = null;
  for (const task of request.tasks) {
    const key = projectIdempotencyKeyOf(task);
    if (key === null) continue;
    const claimKey = claimKeyOf(key);
    const prior = claimed.get(claimKey);
    if (prior) {
      if (prior.specHash !== task.specHash) return { kind: "conflict", idempotencyKey: key.key, existingTaskId: prior.id };
      priors.push(prior);
      collision ??= { idempotencyKey: key.key, existingTaskId: prior.id };
      continue;
    }
    const sibling = inRequest.get(claimKey);
    if (sibling !== undefined) return { kind: "conflict", idempotencyKey: key.key, existingTaskId: sibling };
    inRequest.set(claimKey, task.id);
  }
  if (collision === null) return { kind: "created", tasks: request.tasks };
  if (priors.length === request.tasks.length) return { kind: "existing", tasks: priors };
  return { kind: "conflict", ...collision };
}

/** The statement(s) of one planned group, built by its kind's entry in write-kinds.ts. */
function statementsOf(group: OpGroup): BatchStatement | BatchStatement[] {
  // The planner guarantees every op in a group has group.kind.
  return writeKind(group.kind).statements(group.ops);
}
