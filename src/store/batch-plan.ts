// Turns the ordered list of row operations of a batch into few multi-row statements, without
// changing the outcome of running them one by one in order.
//
// Each operation kind has a fixed phase (its position in a round: inserts of tasks first, events
// last; see write-kinds.ts). Operations are grouped by (round, phase); each group becomes one
// statement. An operation goes into the earliest round that keeps it after every earlier operation
// it conflicts with: two operations conflict when one writes a row key the other reads or writes.
// Two writes of the same row never share a statement (an UPDATE ... FROM with duplicate keys is
// undefined).
//
// In the common case (each task touched once per batch) everything fits in one round, i.e. one
// statement per kind; a task assigned and started within the same batch needs two rounds.
import { writeKind, type RowOp, type RowOpKind } from "./write-kinds.js";

export type { RowOp, RowOpKind } from "./write-kinds.js";

/** Prefix of a row's existence key (no table name starts with it). */
const EXISTS = "+";

export interface RowKeys {
  writes: string[];
  reads: string[];
}

/**
 * What an operation writes and reads, from the rows its kind declares (write-kinds.ts). A row has
 * two keys: its row key (write-kinds.ts, rowKey) stands for its mutable columns; EXISTS + row key
 * for the row being there at all, written only by its insert and read by the operations whose
 * foreign keys point at it. Keeping the two apart lets attempt inserts and events share a round
 * with updates of the same task.
 */
export function keysOf(op: RowOp): RowKeys {
  // Coalescing and planning both ask for each op's keys: made once per op.
  let keys = keysMemo.get(op);
  if (keys === undefined) keysMemo.set(op, (keys = keysOfOp(op)));
  return keys;
}

const keysMemo = new WeakMap<RowOp, RowKeys>();

function keysOfOp(op: RowOp): RowKeys {
  const rows = writeKind(op.kind).rows(op);
  const writes: string[] = [];
  const reads: string[] = [];
  // Plain loops, no closures: this runs for every op of every batch.
  if (rows.inserts) for (const row of rows.inserts) writes.push(row, EXISTS + row);
  if (rows.updates) for (const row of rows.updates) writes.push(row);
  if (rows.references) for (const row of rows.references) reads.push(EXISTS + row);
  return { writes, reads };
}

interface Slot {
  round: number;
  phase: number;
}

function later(a: Slot | undefined, b: Slot): Slot {
  return a === undefined || b.round > a.round || (b.round === a.round && b.phase > a.phase) ? b : a;
}

/** The earliest round for an op of `phase` that keeps it after `slot` (an earlier op's), given it is at least `round`. */
function after(round: number, slot: Slot | undefined, phase: number): number {
  if (slot === undefined) return round;
  return Math.max(round, slot.phase < phase ? slot.round : slot.round + 1);
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
    const { phase } = writeKind(op.kind);
    const { writes, reads } = keysOf(op);
    let round = 0;
    for (const key of reads) round = after(round, lastWrite.get(key), phase);
    for (const key of writes) {
      round = after(round, lastWrite.get(key), phase);
      round = after(round, lastRead.get(key), phase);
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
