// Every kind of row operation a group-commit batch runs, declared once, in WRITE_KINDS below: its
// phase (where its statement goes within a round), the rows it touches, how two writes of one row
// fold into one, and the statement builder that applies a group of them. batch-plan.ts,
// coalesce-writes.ts and apply-batch.ts hold no per-kind code: they read this table.
//
// Adding a write kind = its member in the StoreWrite union (store-types.ts) + ONE entry here + its
// SQL builder in the *-sql.ts module of its table. Nothing else. The compiler rejects a kind
// without an entry (and test/integration/store-write-kinds.test.ts without a sample of it); that
// test runs every entry's statement on a real database and fails when `rows` misses a row the
// statement writes or a foreign key it depends on.
import type { Task } from "../core/types.js";
import type { RunningRecord, StoreWrite } from "./store-types.js";
import type { BatchStatement } from "./batch-statement.js";
import { insertTasks, setTaskHolds, updateTaskProgress, updateTaskStates } from "./tasks-sql.js";
import { insertAttempts, updateAttempts } from "./attempts-sql.js";
import { insertEvents } from "./events-sql.js";
import { updateWorkerStatuses, upsertWorkers } from "./workers-sql.js";
import { recordDeadlineMisses, upsertLearning } from "./learning-sql.js";
import { upsertUsage } from "./quotas-sql.js";
import { cancelArrays, createArrayElements, setArrayHolds } from "./arrays-sql.js";

/** A row operation: a StoreWrite, or a task insert from a submission (`queuedBy`: the submitter, see insertTasks). */
export type RowOp = StoreWrite | { kind: "insert_task"; task: Task; queuedBy: string; endedBy?: string | null };
export type RowOpKind = RowOp["kind"];
export type RowOpOf<K extends RowOpKind> = Extract<RowOp, { kind: K }>;

/** The tables row operations write. */
export type Table = "tasks" | "attempts" | "task_events" | "workers" | "learning_stats" | "project_usage" | "task_arrays";

/** A table row's name: see rowKey. */
export type RowKey = string;

/** The rows one operation touches: what batch planning orders operations by. */
export interface RowsTouched {
  /** Rows it creates, or creates or replaces (upserts): it writes their columns and their existence. */
  inserts?: readonly RowKey[];
  /** Existing rows whose columns it changes. */
  updates?: readonly RowKey[];
  /** Rows that must already exist when it runs: the targets of the foreign keys of rows it inserts. */
  references?: readonly RowKey[];
  /**
   * A table it appends rows to whose keys the database assigns (a bigserial id): no other
   * operation can name such a row, so the row needs no key and is not listed.
   */
  appendsTo?: Table;
}

/**
 * THE row key, the one name of a row: batch planning and coalescing compare rows by it (and the
 * write-kinds test names the rows it finds changed in the database by it). `pk`: the primary-key
 * values in the key's column order. A task's or an attempt's key is its id as it is: ids the master
 * made (UUIDs, never equal across rows, never holding ':'), whose hash the string already carries,
 * so the maps that plan every batch look them up without building and hashing a new string per
 * op. Other rows' keys are `table:pk` (Postgres text cannot hold NUL, so multi-column keys join
 * unambiguously), which a bare id never equals.
 */
export function rowKey(table: Table, ...pk: string[]): RowKey {
  if (table === "tasks" || table === "attempts") return pk[0];
  return `${table}:${pk.join("\u0000")}`;
}

export interface WriteKindSpec<O extends RowOp> {
  /**
   * Position of the kind's statement within a round (see planBatch); each kind has its own. An
   * insert precedes the kinds that reference its row through a foreign key; otherwise phases follow
   * the usual order of a task's life, because a later operation on a row shares the earlier one's
   * round only when its phase is later.
   */
  phase: number;
  /** Every row the operation writes or depends on (batch-plan.ts is correct only if none is missing). */
  rows(op: O): RowsTouched;
  /**
   * Kinds that fold only: `prev` (the last operation that touched next's row, nothing else touching
   * it in between) followed by `next` as one operation with the same outcome, or null if they do
   * not fold. Such a kind inserts or updates exactly one row, the one it folds on. Never mutates
   * its arguments (they may hold the master's live objects): a fold makes a new op.
   */
  fold?: (prev: RowOp, next: O) => RowOp | null;
  /** The statement(s) applying a group of operations of the kind, all on distinct rows, in order. */
  statements(ops: O[]): BatchStatement | BatchStatement[];
}

// rowKey for the tables every batch writes, without its array and join.
const taskRow = (id: string): RowKey => id;
const attemptRow = (id: string): RowKey => id;
const workerRow = (id: string): RowKey => `workers:${id}`;

type AttemptFields = Pick<RowOpOf<"update_attempt">, "startedAtMs" | "finishedAtMs" | "result">;

/** Later defined fields win; `undefined` means "keep" for partial attempt updates. */
function laterFields<T extends AttemptFields>(base: T, next: AttemptFields): T {
  return {
    ...base,
    ...(next.startedAtMs !== undefined ? { startedAtMs: next.startedAtMs } : {}),
    ...(next.finishedAtMs !== undefined ? { finishedAtMs: next.finishedAtMs } : {}),
    ...(next.result !== undefined ? { result: next.result } : {}),
  };
}

/** The RUNNING record after `next`: its own when it sets one, else the one before. */
function laterRunning<T extends { running?: RunningRecord }>(op: T, next: RowOpOf<"update_attempt">): T {
  return next.running === undefined ? op : { ...op, running: next.running };
}

/** One entry per kind, in phase order: inserts precede what references them, events come last. */
export const WRITE_KINDS: { readonly [K in RowOpKind]: WriteKindSpec<RowOpOf<K>> } = {
  // First: attempts and events point at their task through foreign keys, and updates need the row.
  insert_task: {
    phase: 0,
    rows: (op) => ({ inserts: [taskRow(op.task.id)] }),
    statements: (ops) => insertTasks(ops),
  },
  // Before what names the worker: its attempts, status changes and deadline-miss counter.
  upsert_worker: {
    phase: 1,
    rows: (op) => ({ inserts: [workerRow(op.worker.id)] }),
    statements: (ops) => upsertWorkers(ops.map((op) => op.worker)),
  },
  insert_attempt: {
    phase: 2,
    rows: (op) => ({ inserts: [attemptRow(op.attempt.id)], references: [taskRow(op.attempt.taskId)] }),
    statements: (ops) => insertAttempts(ops),
  },
  update_attempt: {
    phase: 3,
    rows: (op) => ({ updates: [attemptRow(op.attemptId)] }),
    fold: (prev, next) => {
      if (prev.kind === "update_attempt") return laterRunning(laterFields(prev, next), next);
      if (prev.kind === "insert_attempt") return laterRunning({ ...prev, attempt: laterFields(prev.attempt, next) }, next);
      return null;
    },
    statements: (ops) => updateAttempts(ops),
  },
  update_task: {
    phase: 4,
    rows: (op) => ({ updates: [taskRow(op.taskId)] }),
    fold: (prev, next) => {
      // update_task sets every column it names, so the later one is the row's final state.
      if (prev.kind === "update_task") return next;
      if (prev.kind !== "insert_task") return null;
      const { state, updatedAtMs, currentAttemptId, attemptCount, result, retriesUsed, requeues, notBeforeMs, endedBy } = next;
      return { ...prev, endedBy, task: { ...prev.task, state, updatedAtMs, currentAttemptId, attemptCount, result, retriesUsed, requeues, notBeforeMs } };
    },
    statements: (ops) => updateTaskStates(ops),
  },
  update_progress: {
    phase: 5,
    rows: (op) => ({ updates: [taskRow(op.taskId)] }),
    fold: (prev, next) => (prev.kind === "update_progress" ? next : null),
    statements: (ops) => updateTaskProgress(ops),
  },
  update_worker_status: {
    phase: 6,
    rows: (op) => ({ updates: [workerRow(op.workerId)] }),
    fold: (prev, next) => {
      if (prev.kind === "update_worker_status") return next;
      if (prev.kind !== "upsert_worker") return null;
      return { kind: "upsert_worker", worker: { ...prev.worker, status: next.status, lastSeenAtMs: next.lastSeenAtMs } };
    },
    statements: (ops) => updateWorkerStatuses(ops),
  },
  upsert_learning: {
    phase: 7,
    rows: (op) => ({ inserts: [rowKey("learning_stats", op.stats.kind, op.stats.workerId)] }),
    // A learning row is written whole (its latest statistics).
    fold: (prev, next) => (prev.kind === "upsert_learning" ? next : null),
    statements: (ops) => upsertLearning(ops.map((op) => op.stats)),
  },
  record_deadline_miss: {
    phase: 8,
    // Two statements (the task's flag, its worker's counter); see recordDeadlineMisses.
    rows: (op) => ({ updates: [taskRow(op.taskId), workerRow(op.workerId)] }),
    statements: (ops) => recordDeadlineMisses(ops),
  },
  upsert_project_usage: {
    phase: 10,
    rows: (op) => ({ inserts: [rowKey("project_usage", op.usage.project)] }),
    // A usage row is written whole (the latest decayed value).
    fold: (prev, next) => (prev.kind === "upsert_project_usage" ? next : null),
    statements: (ops) => upsertUsage(ops.map((op) => op.usage)),
  },
  // Late in a round: an element created here and changed in the same batch (a cancel) takes two rounds, a rare case.
  create_array_elements: {
    phase: 11,
    rows: (op) => ({ inserts: op.elements.map((e) => taskRow(e.id)), updates: [rowKey("task_arrays", op.template.arrayId ?? "")] }),
    statements: (ops) => createArrayElements(ops),
  },
  set_task_hold: {
    phase: 13,
    rows: (op) => ({ updates: [taskRow(op.taskId)] }),
    statements: (ops) => setTaskHolds(ops),
  },
  set_array_hold: {
    phase: 14,
    rows: (op) => ({ updates: [rowKey("task_arrays", op.arrayId)] }),
    statements: (ops) => setArrayHolds(ops),
  },
  cancel_array: {
    phase: 12,
    rows: (op) => ({ updates: [rowKey("task_arrays", op.arrayId)] }),
    statements: (ops) => cancelArrays(ops),
  },
  append_event: {
    phase: 9,
    // Events of one task all only read its existence, so they always land in one round, and one
    // statement inserts them in array order (see insertEvents).
    rows: (op) => ({ references: [taskRow(op.event.taskId)], appendsTo: "task_events" }),
    statements: (ops) => insertEvents(ops.map((op) => op.event)),
  },
};

// planBatch groups a round's operations by phase: two kinds sharing one would share a statement.
const phases = Object.values(WRITE_KINDS).map((spec) => spec.phase);
if (new Set(phases).size !== phases.length) throw new Error("write-kinds.ts: two write kinds share a phase");

/**
 * The entry of a kind, typed for any RowOp: TS cannot tie a union-typed op to its own entry, so
 * callers must pass only ops of `kind` (the op itself, or a planned group of that kind).
 */
export function writeKind(kind: RowOpKind): WriteKindSpec<RowOp> {
  return WRITE_KINDS[kind] as WriteKindSpec<never> as WriteKindSpec<RowOp>;
}
