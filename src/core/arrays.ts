// Job arrays (Slurm's --array): the range syntax, its rules, and the "ARRAY_ID[N]" element address.
// Pure: the master parses a spec's `array` here at submission and again (cheaply) on rebuild for
// its running cap.
import { InvalidArgumentError } from "./errors.js";

/** The master's default bound on the indexes of one array (setting maxArraySize). */
export const DEFAULT_MAX_ARRAY_SIZE = 100_000;
/** Indexes are int32 on the wire (Task.array_index). */
export const MAX_ARRAY_INDEX = 2 ** 31 - 1;

export interface ArrayRange {
  /** Every index, ascending, distinct. */
  indexes: number[];
  /** At most this many elements run at once ("%N"); null: no cap. */
  maxRunning: number | null;
}

const FORM = 'must look like "0-999", "1-99:2" (step 2), "0,4,8-10" or "0-999%10" (at most 10 running)';
const ITEM = /^(\d{1,10})(?:-(\d{1,10})(?::(\d{1,10}))?)?$/;

function invalid(field: string, rule: string): InvalidArgumentError {
  return new InvalidArgumentError(field, rule);
}

interface Item {
  start: number;
  end: number;
  step: number;
}

/**
 * Parses `ITEM[,ITEM...][%MAX]`, ITEM being `N`, `A-B` or `A-B:STEP`. Rules: not empty, each range
 * ascending (A <= B), STEP and MAX >= 1, indexes 0..2^31-1, no index twice, at most `maxSize`
 * indexes in all (counted before any is listed, so a huge range costs nothing).
 */
export function parseArrayRange(text: string, maxSize: number, field = "array"): ArrayRange {
  const trimmed = text.trim();
  if (trimmed === "") throw invalid(field, `must not be empty: ${FORM}`);
  const percent = trimmed.indexOf("%");
  let maxRunning: number | null = null;
  let list = trimmed;
  if (percent >= 0) {
    const cap = trimmed.slice(percent + 1);
    if (!/^\d{1,10}$/.test(cap)) throw invalid(field, `${FORM} (got ${JSON.stringify(text)}): %MAX must be a whole number`);
    maxRunning = Number(cap);
    if (maxRunning < 1) throw invalid(field, `%MAX must be >= 1 (got %${cap})`);
    list = trimmed.slice(0, percent);
  }
  const items: Item[] = [];
  let count = 0;
  for (const part of list.split(",")) {
    const m = ITEM.exec(part.trim());
    if (m === null) throw invalid(field, `${FORM} (got ${JSON.stringify(text)})`);
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (end > MAX_ARRAY_INDEX) throw invalid(field, `indexes must be <= ${MAX_ARRAY_INDEX} (got ${end})`);
    if (start > end) throw invalid(field, `range ${part.trim()} is reversed: its start must be <= its end`);
    if (step < 1) throw invalid(field, `step must be >= 1 (got :${m[3]})`);
    count += Math.floor((end - start) / step) + 1;
    if (count > maxSize) throw invalid(field, `at most ${maxSize} indexes per array (the master's maxArraySize; got ${count} or more)`);
    items.push({ start, end, step });
  }
  const indexes: number[] = [];
  for (const { start, end, step } of items) for (let i = start; i <= end; i += step) indexes.push(i);
  indexes.sort((a, b) => a - b);
  for (let i = 1; i < indexes.length; i++) {
    if (indexes[i] === indexes[i - 1]) throw invalid(field, `index ${indexes[i]} is listed twice`);
  }
  return { indexes, maxRunning };
}

/** The running cap of a spec's array, without listing its indexes (for rebuild); null: none. */
export function maxRunningOf(text: string | undefined): number | null {
  if (text === undefined) return null;
  const percent = text.indexOf("%");
  if (percent < 0) return null;
  const cap = Number(text.slice(percent + 1));
  return Number.isInteger(cap) && cap >= 1 ? cap : null;
}

/** How many indexes a range accepted by parseArrayRange has (no index twice), without listing them. */
export function arraySizeOf(text: string): number {
  let count = 0;
  for (const part of text.split("%")[0].split(",")) {
    const m = ITEM.exec(part.trim());
    if (m === null) continue;
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    count += Math.floor((end - start) / (m[3] === undefined ? 1 : Number(m[3]))) + 1;
  }
  return count;
}

/** An element address "ARRAY_ID[N]"; null when `text` is not one. */
export function parseElementRef(text: string): { arrayId: string; index: number } | null {
  const m = /^(.+)\[(\d{1,10})\]$/.exec(text);
  if (m === null) return null;
  const index = Number(m[2]);
  return index <= MAX_ARRAY_INDEX ? { arrayId: m[1], index } : null;
}

export function elementRef(arrayId: string, index: number): string {
  return `${arrayId}[${index}]`;
}

/** The environment an element runs with (added by the master to the assignment). */
export function arrayEnv(arrayId: string, index: number): Record<string, string> {
  return { TASKGRID_ARRAY_ID: arrayId, TASKGRID_ARRAY_INDEX: String(index) };
}
