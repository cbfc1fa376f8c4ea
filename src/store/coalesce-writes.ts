// Folds successive writes of the same row within one batch into one write, before planBatch groups
// them into statements. A task assigned, started and finished while one transaction was being
// committed would otherwise need three UPDATEs of its row (each a new row version with its index
// entries) in three successive statements; learning stats of one (kind, worker) pair would need
// one statement per finished attempt.
//
// A write is folded into the previous write of its row only when nothing else touched that row in
// between (its columns, see keysOf), so the outcome equals running the writes one by one. Which kinds fold, and
// how, is each kind's `fold` in write-kinds.ts. Input ops are never mutated (they may hold the
// master's live objects); a fold makes a new op.
import { keysOf, type RowOp } from "./batch-plan.js";
import { writeKind } from "./write-kinds.js";

/** The batch's writes with successive writes of one row folded together; order otherwise kept. */
export function coalesceWrites(ops: readonly RowOp[]): RowOp[] {
  const out: RowOp[] = [];
  /** Row key -> index in `out` of the last op that wrote its columns. */
  const lastTouch = new Map<string, number>();
  for (const op of ops) {
    const { writes } = keysOf(op);
    // A kind that folds writes exactly one row, inserted or updated: the one it folds on.
    const fold = writeKind(op.kind).fold;
    const at = fold === undefined ? undefined : lastTouch.get(writes[0]);
    if (at !== undefined) {
      const folded = fold?.(out[at], op) ?? null;
      if (folded !== null) {
        out[at] = folded;
        continue;
      }
    }
    out.push(op);
    for (const key of writes) lastTouch.set(key, out.length - 1);
  }
  return out;
}
