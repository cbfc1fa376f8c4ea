// SQL for projects' quotas and shares (project_quotas) and their decayed usage (project_usage),
// migration 0009. Quota rows are written directly (an operator's edit, like tokens); usage rows go
// through the group committer with the leader's other writes (fenced by its epoch).
import type { Amounts, ProjectQuota, ProjectUsage } from "../core/fairshare/types.js";
import { jsonParam, queryRows, toNumber, type Db } from "./sql-util.js";
import { batchStatement, type BatchStatement } from "./batch-statement.js";

/** A project's row: its quota and its fair-share shares, with who changed it last. */
export interface QuotaRecord extends ProjectQuota {
  shares: number;
  updatedAtMs: number;
  updatedBy: string;
}

interface QuotaRow {
  project: string;
  nominal: Amounts;
  borrowing_limit: Amounts;
  lending_limit: Amounts;
  shares: number;
  updated_at_ms: number | string;
  updated_by: string;
}

function rowToQuota(row: QuotaRow): QuotaRecord {
  return {
    project: row.project,
    nominal: row.nominal,
    borrowingLimit: row.borrowing_limit,
    lendingLimit: row.lending_limit,
    shares: Number(row.shares),
    updatedAtMs: toNumber(row.updated_at_ms),
    updatedBy: row.updated_by,
  };
}

export async function selectQuotas(db: Db): Promise<QuotaRecord[]> {
  return (await queryRows<QuotaRow>(db, "SELECT * FROM project_quotas ORDER BY project")).map(rowToQuota);
}

/** Insert or replace a project's row; returns it as stored. */
export async function upsertQuota(db: Db, q: QuotaRecord): Promise<QuotaRecord> {
  const [row] = await queryRows<QuotaRow>(
    db,
    `INSERT INTO project_quotas (project, nominal, borrowing_limit, lending_limit, shares, updated_at_ms, updated_by)
     VALUES (?, ?::jsonb, ?::jsonb, ?::jsonb, ?, ?, ?)
     ON CONFLICT (project) DO UPDATE SET nominal = excluded.nominal, borrowing_limit = excluded.borrowing_limit,
       lending_limit = excluded.lending_limit, shares = excluded.shares, updated_at_ms = excluded.updated_at_ms,
       updated_by = excluded.updated_by
     RETURNING *`,
    [q.project, JSON.stringify(q.nominal), JSON.stringify(q.borrowingLimit), JSON.stringify(q.lendingLimit), q.shares, q.updatedAtMs, q.updatedBy],
  );
  return rowToQuota(row);
}

/** Whether the project had a row. */
export async function deleteQuota(db: Db, project: string): Promise<boolean> {
  return (await queryRows(db, "DELETE FROM project_quotas WHERE project = ? RETURNING project", [project])).length > 0;
}

export async function selectUsage(db: Db): Promise<ProjectUsage[]> {
  const rows = await queryRows<{ project: string; usage: number; at_ms: number | string }>(
    db,
    "SELECT project, usage, at_ms FROM project_usage ORDER BY project",
  );
  return rows.map((r) => ({ project: r.project, usage: Number(r.usage), atMs: toNumber(r.at_ms) }));
}

/** Insert or replace usage rows (projects distinct within one call). */
export function upsertUsage(usage: readonly ProjectUsage[]): BatchStatement {
  return batchStatement(
    `INSERT INTO project_usage (project, usage, at_ms)
     SELECT project, usage, at_ms FROM json_to_recordset(?::json) AS x(project text, usage double precision, at_ms bigint)
     ON CONFLICT (project) DO UPDATE SET usage = excluded.usage, at_ms = excluded.at_ms`,
    jsonParam(usage.map((u) => ({ project: u.project, usage: u.usage, at_ms: u.atMs }))),
  );
}
