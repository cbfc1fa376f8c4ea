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

/**
 * What an operation touches, from the rows its kind declares (write-kinds.ts). A row has two sides:
 * its columns, and its being there at all. An op writes the columns of the rows it inserts or
 * updates (`writes`), writes the existence of the rows it inserts (`creates`) and reads the
 * existence of the rows its foreign keys point at (`needs`). Keeping the sides apart lets attempt
 * inserts and events share a round with updates of the same task.
 */
export interface RowKeys {
  writes: readonly string[];
  creates: readonly string[];
  needs: readonly string[];
}

const NONE: readonly string[] = [];

export function keysOf(op: RowOp): RowKeys {
  const rows = writeKind(op.kind).rows(op);
  const creates = rows.inserts ?? NONE;
  // Most kinds only insert or only update: their one list is the writes, no copy.
  const writes = rows.updates === undefined ? creates : rows.inserts === undefined ? rows.updates : [...creates, ...rows.updates];
  return { writes, creates, needs: rows.references ?? NONE };
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
  // Per side of a row: the last op that wrote its columns; that created it; the latest that needed it.
  const lastWrite = new Map<string, Slot>();
  const lastCreate = new Map<string, Slot>();
  const lastNeed = new Map<string, Slot>();
  const rounds: OpGroup[][] = [];

  for (const op of ops) {
    const { phase } = writeKind(op.kind);
    const { writes, creates, needs } = keysOf(op);
    let round = 0;
    for (const key of writes) round = after(round, lastWrite.get(key), phase);
    for (const key of needs) round = after(round, lastCreate.get(key), phase);
    for (const key of creates) {
      round = after(round, lastCreate.get(key), phase);
      round = after(round, lastNeed.get(key), phase);
    }
    const slot = { round, phase };
    for (const key of writes) lastWrite.set(key, slot);
    for (const key of creates) lastCreate.set(key, slot);
    for (const key of needs) lastNeed.set(key, later(lastNeed.get(key), slot));

    while (rounds.length <= round) rounds.push([]);
    const groups = rounds[round];
    let group = groups[phase];
    if (!group) group = groups[phase] = { kind: op.kind, ops: [] };
    group.ops.push(op);
  }
  // Sparse per-round arrays indexed by phase: flat() skips the holes and keeps phase order.
  return rounds.flatMap((groups) => groups.filter((g) => g !== undefined));
}
