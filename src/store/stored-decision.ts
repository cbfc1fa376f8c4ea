// An attempt's placement decision as its row keeps it (attempts.decision): positional arrays, not
// objects. Every attempt stores one (DESIGN §3: each decision keeps its breakdown), and as an
// object of two breakdowns it was ~620 bytes of JSON with 22 keys, which the master serialises and
// Postgres parses twice (json_to_recordset, then jsonb, where each key and number is converted).
// Measured on 20,000-row inserts of the attempts table (issue 18): 17.7 us of server time per row
// with the object, 11.9 with the arrays, 8.4 with no decision at all. Values are kept exactly.
// Reading takes either form, so rows written before this read the same.
import type { PlacementDecision, ScoreBreakdown } from "../core/types.js";

/** [workerId, score, deadline, affinity, load, io, success, penalty] */
type StoredBreakdown = [string, number, number, number, number, number, number, number];
/** [strategy, fallbackReason, feasibleWorkers, weightsVersion, chosen, runnerUp] */
type StoredDecision = [string, string, number, string, StoredBreakdown | null, StoredBreakdown | null];

function storedBreakdown(b: ScoreBreakdown | null): StoredBreakdown | null {
  return b === null ? null : [b.workerId, b.score, b.deadline, b.affinity, b.load, b.io, b.success, b.penalty];
}

function breakdownFromStored(b: StoredBreakdown | null): ScoreBreakdown | null {
  if (b === null) return null;
  const [workerId, score, deadline, affinity, load, io, success, penalty] = b;
  return { workerId, score, deadline, affinity, load, io, success, penalty };
}

/** The decision as the row stores it. */
export function storedDecision(d: PlacementDecision | null): StoredDecision | null {
  return d === null ? null : [d.strategy, d.fallbackReason, d.feasibleWorkers, d.weightsVersion, storedBreakdown(d.chosen), storedBreakdown(d.runnerUp)];
}

/** The decision from a row: the positional form, or an object as rows written before it hold. */
export function decisionFromStored(stored: unknown): PlacementDecision | null {
  if (stored === null || stored === undefined) return null;
  if (!Array.isArray(stored)) return stored as PlacementDecision;
  const [strategy, fallbackReason, feasibleWorkers, weightsVersion, chosen, runnerUp] = stored as StoredDecision;
  return {
    strategy: strategy as PlacementDecision["strategy"],
    fallbackReason,
    feasibleWorkers,
    chosen: breakdownFromStored(chosen),
    runnerUp: breakdownFromStored(runnerUp),
    weightsVersion,
  };
}
