// A task's or an attempt's result as its row keeps it (tasks.result, attempts.result): a positional
// array, not an object. Every task that ends writes it twice (its row and its attempt's), and as an
// object its nine keys were most of the parsing: measured on 20,000-row inserts (issue 18), 4.2 us
// of server time per row with the object, 2.6 with the array, 1.8 with none. Values are kept
// exactly; an optional field that is absent is stored as null and read back absent. Reading takes
// either form, so rows written before this (and stored events, which keep the object) read the
// same; SQL that reads a field of a result goes through resultFieldSql.
import type { AttemptOutcome, TaskResult } from "../core/types.js";

/** [outcome, exitCode, signal, outputTail, durationMs, message, logLocation, cpuTimeMs, maxRssKib] */
type StoredResult = [string, number, string, string, number, string, string | null, number | null, number | null];

/** Positions of the fields SQL reads (history-sql.ts). */
const POSITIONS = { exitCode: 1, signal: 2, durationMs: 4, cpuTimeMs: 7, maxRssKib: 8 } as const;

/** The result as the row stores it. */
export function storedResult(r: TaskResult | null): StoredResult | null {
  if (r === null) return null;
  return [r.outcome, r.exitCode, r.signal, r.outputTail, r.durationMs, r.message, r.logLocation ?? null, r.cpuTimeMs ?? null, r.maxRssKib ?? null];
}

/** The result from a row: the positional form, or an object as older rows and stored events hold. */
export function resultFromStored(stored: unknown): TaskResult | null {
  if (stored === null || stored === undefined) return null;
  if (!Array.isArray(stored)) return stored as TaskResult;
  const [outcome, exitCode, signal, outputTail, durationMs, message, logLocation, cpuTimeMs, maxRssKib] = stored as StoredResult;
  const result: TaskResult = { outcome: outcome as AttemptOutcome, exitCode, signal, outputTail, durationMs, message };
  if (logLocation !== null) result.logLocation = logLocation;
  if (cpuTimeMs !== null) result.cpuTimeMs = cpuTimeMs;
  if (maxRssKib !== null) result.maxRssKib = maxRssKib;
  return result;
}

/** SQL for one field of a stored result (`column`, jsonb) as text, whichever form the row holds. */
export function resultFieldSql(column: string, field: keyof typeof POSITIONS): string {
  return `(CASE WHEN jsonb_typeof(${column}) = 'array' THEN ${column}->>${POSITIONS[field]} ELSE ${column}->>'${field}' END)`;
}
