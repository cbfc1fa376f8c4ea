// Turns the ordered list of row operations of a batch into few multi-row statements, without
// changing the outcome of running them one by one in order.
//
// Each operation kind has a fixed phase (its position in a round: inserts of tasks first, events
// last). Operations are grouped by (round, phase); each group becomes one statement. An operation
// goes into the earliest round that keeps it after every earlier operation it conflicts with:
// two operations conflict when one writes a row key the other reads or writes. Two writes of the
// same row never share a statement (an UPDATE ... FROM with duplicate keys is undefined).
//
// In the common case (each task touched once per batch) everything fits in one round, i.e. one
// statement per kind; a task assigned and started within the same batch needs two rounds.
import type { Task } from "../core/types.js";
import type { StoreWrite } from "./store-types.js";

/** A row operation: a StoreWrite, or a task insert from a submission. */
export type RowOp = StoreWrite | { kind: "insert_task"; task: Task };
export type RowOpKind = RowOp["kind"];

/** Execution order of kinds within a round. Inserts precede what references them. */
const PHASE: Record<RowOpKind, number> = {
  insert_task: 0,
  upsert_worker: 1,
  insert_attempt: 2,
  update_attempt: 3,
  update_task: 4,
  update_progress: 5,
  update_worker_status: 6,
  upsert_learning: 7,
  record_deadline_miss: 8,
  append_event: 9,
};

export interface RowKeys {
  writes: string[];
  reads: string[];
}

// "t:" = a task row's mutable columns; "tx:" = the task row's existence (written only by its
// insert), which attempts and events depend on through their foreign keys. Keeping the two apart
// lets attempt inserts and events share a round with updates of the same task.
export function keysOf(op: RowOp): RowKeys {
  switch (op.kind) {
    case "insert_task":
      return { writes: [`t:${op.task.id}`, `tx:${op.task.id}`], reads: [] };
    case "update_task":
    case "update_progress":
      return { writes: [`t:${op.taskId}`], reads: [] };
    case "insert_attempt":
      return { writes: [`a:${op.attempt.id}`], reads: [`tx:${op.attempt.taskId}`] };
    case "update_attempt":
      return { writes: [`a:${op.attemptId}`], reads: [] };
    // Events of one task all read only "tx:", so they always land in one round, and one
    // statement inserts them in array order (see insertEvents).
    case "append_event":
      return { writes: [], reads: [`tx:${op.event.taskId}`] };
    case "upsert_worker":
      return { writes: [`w:${op.worker.id}`], reads: [] };
    case "update_worker_status":
      return { writes: [`w:${op.workerId}`], reads: [] };
    case "upsert_learning":
      return { writes: [`l:${op.stats.kind}\u0000${op.stats.workerId}`], reads: [] };
    case "record_deadline_miss":
      return { writes: [`t:${op.taskId}`, `w:${op.workerId}`], reads: [] };
  }
}

interface Slot {
  round: number;
  phase: number;
}

function later(a: Slot | undefined, b: Slot): Slot {
  return a === undefined || b.round > a.round || (b.round === a.round && b.phase > a.phase) ? b : a;
}

/** One statement's worth of operations, all of the same kind. */
export interface OpGroup {
  kind: RowOpKind;
  ops: RowOp[];
}

/** Groups ops into statements; running the groups in the returned order is equivalent to running ops in order. */
export function planBatch(ops: readonly RowOp[]): OpGroup[] {
  const lastWrite = new Map<string, Slot>();
  const lastRead = new Map<string, Slot>();
  const rounds: OpGroup[][] = [];

  for (const op of ops) {
    const phase = PHASE[op.kind];
    const { writes, reads } = keysOf(op);
    let round = 0;
    const after = (slot: Slot | undefined) => {
      if (slot) round = Math.max(round, slot.phase < phase ? slot.round : slot.round + 1);
    };
    for (const key of reads) after(lastWrite.get(key));
    for (const key of writes) {
      after(lastWrite.get(key));
      after(lastRead.get(key));
    }
    const slot = { round, phase };
    for (const key of writes) lastWrite.set(key, slot);
    for (const key of reads) lastRead.set(key, later(lastRead.get(key), slot));

    while (rounds.length <= round) rounds.push([]);
    const groups = rounds[round];
    let group = groups[phase];
    if (!group) group = groups[phase] = { kind: op.kind, ops: [] };
    group.ops.push(op);
  }
  // Sparse per-round arrays indexed by phase: flat() skips the holes and keeps phase order.
  return rounds.flatMap((groups) => groups.filter((g) => g !== undefined));
}
