// SQL for learned per-(kind, worker) statistics (the "tau store") and deadline-miss counters.
import type { LearningStats } from "../core/rts/learning.js";
import { jsonParam, queryRows, toNumber, type Db } from "./sql-util.js";
import { batchStatement, type BatchStatement } from "./batch-statement.js";

interface LearningRow {
  kind: string;
  worker_id: string;
  runtime_ratio: number;
  successes: number;
  failures: number;
  prediction_error: number;
  samples: number;
  updated_at_ms: number | string;
}

/** Insert or replace learning rows. (kind, worker) pairs must be distinct within one call. */
export function upsertLearning(stats: readonly LearningStats[]): BatchStatement {
  const rows = stats.map((s) => ({
    kind: s.kind,
    worker_id: s.workerId,
    runtime_ratio: s.runtimeRatio,
    successes: s.successes,
    failures: s.failures,
    success_rate: (s.successes + 1) / (s.successes + s.failures + 2),
    prediction_error: s.predictionError,
    samples: s.samples,
    updated_at_ms: s.updatedAtMs,
  }));
  return batchStatement(
    `INSERT INTO learning_stats (kind, worker_id, runtime_ratio, successes, failures, success_rate,
       prediction_error, samples, updated_at_ms)
     SELECT kind, worker_id, runtime_ratio, successes, failures, success_rate, prediction_error, samples, updated_at_ms
     FROM json_to_recordset(?::json) AS x(kind text, worker_id text, runtime_ratio double precision,
       successes double precision, failures double precision, success_rate double precision,
       prediction_error double precision, samples integer, updated_at_ms bigint)
     ON CONFLICT (kind, worker_id) DO UPDATE SET runtime_ratio = excluded.runtime_ratio,
       successes = excluded.successes, failures = excluded.failures, success_rate = excluded.success_rate,
       prediction_error = excluded.prediction_error, samples = excluded.samples, updated_at_ms = excluded.updated_at_ms`,
    jsonParam(rows),
  );
}

export async function selectLearning(db: Db): Promise<LearningStats[]> {
  const rows = await queryRows<LearningRow>(
    db,
    `SELECT kind, worker_id, runtime_ratio, successes, failures, prediction_error, samples, updated_at_ms
     FROM learning_stats ORDER BY kind, worker_id`,
  );
  return rows.map((r) => ({
    kind: r.kind,
    workerId: r.worker_id,
    runtimeRatio: Number(r.runtime_ratio),
    successes: Number(r.successes),
    failures: Number(r.failures),
    predictionError: Number(r.prediction_error),
    samples: Number(r.samples),
    updatedAtMs: toNumber(r.updated_at_ms),
  }));
}

/** Marks tasks as having missed their deadline and counts one miss per entry on its worker. */
export function recordDeadlineMisses(misses: readonly { taskId: string; workerId: string }[]): BatchStatement[] {
  const statements = [
    batchStatement(
      `UPDATE tasks SET deadline_missed = true WHERE id IN (SELECT value FROM json_array_elements_text(?::json))`,
      JSON.stringify(misses.map((m) => m.taskId)),
    ),
  ];
  const perWorker = new Map<string, number>();
  for (const m of misses) if (m.workerId) perWorker.set(m.workerId, (perWorker.get(m.workerId) ?? 0) + 1);
  if (perWorker.size === 0) return statements;
  statements.push(
    batchStatement(
      `UPDATE workers AS w SET deadline_misses = w.deadline_misses + x.n
       FROM json_to_recordset(?::json) AS x(id text, n integer) WHERE w.id = x.id`,
      jsonParam([...perWorker].map(([id, n]) => ({ id, n }))),
    ),
  );
  return statements;
}
