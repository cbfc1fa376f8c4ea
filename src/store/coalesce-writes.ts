// Folds successive writes of the same row within one batch into one write, before planBatch groups
// them into statements. A task assigned, started and finished while one transaction was being
// committed would otherwise need three UPDATEs of its row (each a new row version with its index
// entries) in three successive statements; learning stats of one (kind, worker) pair would need
// one statement per finished attempt.
//
// A write is folded into the previous write of its row only when nothing else touched that row in
// between (see keysOf), so the outcome equals running the writes one by one. Input ops are never
// mutated (they may hold the master's live objects); a fold makes a new op.
import { keysOf, type RowOp } from "./batch-plan.js";

type Op<K extends RowOp["kind"]> = Extract<RowOp, { kind: K }>;
type AttemptFields = Pick<Op<"update_attempt">, "startedAtMs" | "finishedAtMs" | "result">;

/** The row a foldable write targets; null for kinds that are never folded (inserts, events, ...). */
function rowKeyOf(op: RowOp): string | null {
  switch (op.kind) {
    case "update_task":
    case "update_progress":
      return `t:${op.taskId}`;
    case "update_attempt":
      return `a:${op.attemptId}`;
    case "update_worker_status":
      return `w:${op.workerId}`;
    case "upsert_learning":
      return `l:${op.stats.kind}\u0000${op.stats.workerId}`;
    default:
      return null;
  }
}

/** Later defined fields win; `undefined` means "keep" for partial attempt updates. */
function laterFields<T extends AttemptFields>(base: T, next: AttemptFields): T {
  return {
    ...base,
    ...(next.startedAtMs !== undefined ? { startedAtMs: next.startedAtMs } : {}),
    ...(next.finishedAtMs !== undefined ? { finishedAtMs: next.finishedAtMs } : {}),
    ...(next.result !== undefined ? { result: next.result } : {}),
  };
}

/** `prev` followed by `next` (same row, nothing in between) as one write, or null if they do not fold. */
function fold(prev: RowOp, next: RowOp): RowOp | null {
  switch (next.kind) {
    case "update_task": {
      // update_task sets every column it names, so the later one is the row's final state.
      if (prev.kind === "update_task") return next;
      if (prev.kind !== "insert_task") return null;
      const { state, updatedAtMs, currentAttemptId, attemptCount, result, retriesUsed, requeues, notBeforeMs } = next;
      return { kind: "insert_task", task: { ...prev.task, state, updatedAtMs, currentAttemptId, attemptCount, result, retriesUsed, requeues, notBeforeMs } };
    }
    case "update_progress":
      return prev.kind === "update_progress" ? next : null;
    case "update_attempt": {
      if (prev.kind === "update_attempt") return laterFields(prev, next);
      if (prev.kind === "insert_attempt") return { kind: "insert_attempt", attempt: laterFields(prev.attempt, next) };
      return null;
    }
    case "update_worker_status": {
      if (prev.kind === "update_worker_status") return next;
      if (prev.kind !== "upsert_worker") return null;
      return { kind: "upsert_worker", worker: { ...prev.worker, status: next.status, lastSeenAtMs: next.lastSeenAtMs } };
    }
    case "upsert_learning":
      // A learning row is written whole (its latest statistics).
      return prev.kind === "upsert_learning" ? next : null;
    default:
      return null;
  }
}

/** The batch's writes with successive writes of one row folded together; order otherwise kept. */
export function coalesceWrites(ops: readonly RowOp[]): RowOp[] {
  const out: RowOp[] = [];
  /** Row key -> index in `out` of the last op that wrote or read it. */
  const lastTouch = new Map<string, number>();
  for (const op of ops) {
    const rowKey = rowKeyOf(op);
    const at = rowKey === null ? undefined : lastTouch.get(rowKey);
    if (at !== undefined) {
      const folded = fold(out[at], op);
      if (folded !== null) {
        out[at] = folded;
        continue;
      }
    }
    out.push(op);
    const { writes, reads } = keysOf(op);
    for (const key of writes) lastTouch.set(key, out.length - 1);
    for (const key of reads) lastTouch.set(key, out.length - 1);
  }
  return out;
}
