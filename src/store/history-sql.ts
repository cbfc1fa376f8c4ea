// SQL for history and accounting (issue 17): finished tasks with their attempts' figures summed,
// newest end first, and the retention's bounded deletes. A terminal task's ended_at_ms (generated:
// its updated_at_ms once its state is final; NULL while active) is when it ended, and migration 0016
// indexes it for terminal tasks only.
import { InvalidArgumentError } from "../core/errors.js";
import type { TaskState } from "../core/types.js";
import { ACTIVE_TASK_CONDITION } from "./tasks-sql.js";
import { queryRows, toNumber, toNumberOrNull, type Db } from "./sql-util.js";
import { resultFieldSql, resultFromStored } from "./stored-result.js";

export type EndedState = Extract<TaskState, "SUCCEEDED" | "FAILED" | "CANCELED">;
export const ENDED_STATES: readonly EndedState[] = ["SUCCEEDED", "FAILED", "CANCELED"];
/** Written out in every statement, so the planner can match the partial index's predicate. */
const ENDED_CONDITION = "t.ended_at_ms IS NOT NULL";

export interface HistoryFilter {
  /** Ended at or after (epoch ms). */
  sinceMs?: number;
  /** Ended before. */
  untilMs?: number;
  project?: string;
  /** Empty or absent: all three. */
  states?: EndedState[];
  /** "key=value" */
  label?: string;
  kind?: string;
}

/** One finished task; figures summed over its attempts (CPU and memory null when none was measured). */
export interface HistoryRow {
  taskId: string;
  name: string;
  project: string;
  kind: string;
  state: EndedState;
  exitCode: number;
  signal: string;
  /** Worker of the last attempt; "" when it had none. */
  workerId: string;
  attempts: number;
  labels: Record<string, string>;
  submittedAtMs: number;
  /** First attempt's start; null when none started. */
  startedAtMs: number | null;
  endedAtMs: number;
  runMs: number;
  cpuTimeMs: number | null;
  maxRssKib: number | null;
  /** Allocated GPUs x run time, summed over attempts. */
  gpuMs: number;
}

export interface HistoryPage {
  rows: HistoryRow[];
  /** Opaque token for the next page, "" when none. */
  nextPageToken: string;
}

/** Keyset position: the (end, id) of the last row of the previous page. */
export interface HistoryCursor {
  endedAtMs: number;
  id: string;
}

interface Row {
  id: string;
  name: string | null;
  project: string;
  kind: string | null;
  state: EndedState;
  /** Positional (stored-result.ts), or an object in rows written before it. */
  result: unknown;
  labels: Record<string, string> | null;
  created_at_ms: number | string;
  ended_at_ms: number | string;
  attempts: number | string | null;
  first_started_at_ms: number | string | null;
  run_ms: number | string | null;
  cpu_ms: number | string | null;
  max_rss_kib: number | string | null;
  gpu_ms: number | string | null;
  worker_id: string | null;
}

// An attempt's run time: what the agent measured, else its start-to-finish, 0 when it never started.
const ATTEMPT_RUN_MS = `CASE WHEN a.started_at_ms IS NULL THEN 0
  ELSE COALESCE(${resultFieldSql("a.result", "durationMs")}::bigint, a.finished_at_ms - a.started_at_ms, 0) END`;

/** One page (`limit` rows: the caller asks one more than its page size to learn whether another page exists). */
export async function selectHistoryPage(db: Db, filter: HistoryFilter, limit: number, cursor: HistoryCursor | null): Promise<HistoryRow[]> {
  const where: string[] = [ENDED_CONDITION];
  const bindings: unknown[] = [];
  if (filter.states && filter.states.length > 0) {
    where.push(`t.state IN (${filter.states.map(() => "?").join(", ")})`);
    bindings.push(...filter.states);
  }
  if (filter.sinceMs !== undefined) {
    where.push(`t.ended_at_ms >= ?`);
    bindings.push(filter.sinceMs);
  }
  if (filter.untilMs !== undefined) {
    where.push(`t.ended_at_ms < ?`);
    bindings.push(filter.untilMs);
  }
  if (filter.project) {
    where.push(`t.project = ?`);
    bindings.push(filter.project);
  }
  if (filter.kind) {
    where.push(`COALESCE(t.spec->>'kind', '') = ?`);
    bindings.push(filter.kind);
  }
  if (filter.label) {
    const eq = filter.label.indexOf("=");
    if (eq <= 0) throw new InvalidArgumentError("label", 'must be "key=value"');
    where.push(`t.labels ->> ? = ?`);
    bindings.push(filter.label.slice(0, eq), filter.label.slice(eq + 1));
  }
  if (cursor) {
    where.push(`(t.ended_at_ms, t.id) < (?, ?)`);
    bindings.push(cursor.endedAtMs, cursor.id);
  }
  // The page's tasks first (the index gives them in order), then their attempts' sums for those only.
  const rows = await queryRows<Row>(
    db,
    `SELECT t.id, COALESCE(t.spec->>'name', '') AS name, t.project, COALESCE(t.spec->>'kind', '') AS kind, t.state, t.result, t.labels,
       t.created_at_ms, t.ended_at_ms, s.attempts, s.first_started_at_ms, s.run_ms, s.cpu_ms, s.max_rss_kib, s.gpu_ms, s.worker_id
     FROM (SELECT * FROM tasks AS t WHERE ${where.join(" AND ")} ORDER BY t.ended_at_ms DESC, t.id DESC LIMIT ?) AS t
     LEFT JOIN LATERAL (
       SELECT count(*) AS attempts,
         min(a.started_at_ms) AS first_started_at_ms,
         sum(${ATTEMPT_RUN_MS}) AS run_ms,
         sum(${resultFieldSql("a.result", "cpuTimeMs")}::bigint) AS cpu_ms,
         max(${resultFieldSql("a.result", "maxRssKib")}::bigint) AS max_rss_kib,
         sum(jsonb_array_length(a.gpu_indexes) * ${ATTEMPT_RUN_MS}) AS gpu_ms,
         (array_agg(a.worker_id ORDER BY a.number DESC, a.id DESC))[1] AS worker_id
       FROM attempts AS a WHERE a.task_id = t.id
     ) AS s ON true
     ORDER BY t.ended_at_ms DESC, t.id DESC`,
    [...bindings, limit],
  );
  return rows.map(rowToHistory);
}

function rowToHistory(row: Row): HistoryRow {
  const result = resultFromStored(row.result);
  return {
    taskId: row.id,
    name: row.name ?? "",
    project: row.project,
    kind: row.kind ?? "",
    state: row.state,
    exitCode: result?.exitCode ?? -1,
    signal: result?.signal ?? "",
    workerId: row.worker_id ?? "",
    attempts: toNumber(row.attempts ?? 0),
    labels: row.labels ?? {},
    submittedAtMs: toNumber(row.created_at_ms),
    startedAtMs: toNumberOrNull(row.first_started_at_ms),
    endedAtMs: toNumber(row.ended_at_ms),
    runMs: toNumber(row.run_ms ?? 0),
    cpuTimeMs: toNumberOrNull(row.cpu_ms),
    maxRssKib: toNumberOrNull(row.max_rss_kib),
    gpuMs: toNumber(row.gpu_ms ?? 0),
  };
}

/**
 * The first `limit` finished tasks that ended before `beforeMs`, oldest first, as a subquery. An
 * element of a job array that still has active elements is kept (the array's status reads them all).
 */
function expiredTasks(limit: number): string {
  return `SELECT t.id FROM tasks AS t
    WHERE ${ENDED_CONDITION} AND t.ended_at_ms < ?
      AND (t.array_id IS NULL OR t.array_id NOT IN (SELECT array_id FROM tasks WHERE ${ACTIVE_TASK_CONDITION} AND array_id IS NOT NULL))
    ORDER BY t.ended_at_ms, t.id LIMIT ${Math.trunc(limit)}`;
}

/**
 * Deletes at most `rowLimit` events of the next `taskLimit` expired tasks: a task reporting progress
 * may have thousands, so they go first and in bounded statements. Returns how many went.
 */
export async function deleteExpiredEvents(db: Db, beforeMs: number, taskLimit: number, rowLimit: number): Promise<number> {
  const rows = await queryRows<{ id: number }>(
    db,
    `DELETE FROM task_events WHERE id IN (
       SELECT e.id FROM task_events AS e WHERE e.task_id IN (${expiredTasks(taskLimit)}) LIMIT ${Math.trunc(rowLimit)}
     ) RETURNING id`,
    [beforeMs],
  );
  return rows.length;
}

/**
 * Deletes the next `taskLimit` expired tasks with their attempts and any events left, in one
 * statement (there are no foreign keys to cascade through since migration 0013).
 */
export async function deleteExpiredTasks(db: Db, beforeMs: number, taskLimit: number): Promise<number> {
  const rows = await queryRows<{ id: string }>(
    db,
    `WITH gone AS (DELETE FROM tasks WHERE id IN (${expiredTasks(taskLimit)}) RETURNING id),
       gone_attempts AS (DELETE FROM attempts WHERE task_id IN (SELECT id FROM gone)),
       gone_events AS (DELETE FROM task_events WHERE task_id IN (SELECT id FROM gone))
     SELECT id FROM gone`,
    [beforeMs],
  );
  // Job arrays' records once none of their elements is left and none will be created (a separate
  // statement: the CTE's deletes are not visible to the rest of its own statement).
  await queryRows(
    db,
    `DELETE FROM task_arrays a WHERE a.created_at_ms < ? AND (a.created = a.total OR a.canceled_at_ms IS NOT NULL)
       AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.array_id = a.array_id)`,
    [beforeMs],
  );
  return rows.length;
}
