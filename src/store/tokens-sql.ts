// SQL for api_tokens. Token writes are rare (an admin creating or revoking one), so they go straight
// to the database instead of through the group committer; last-used times are flushed in batches.
import type { Role } from "../core/access.js";
import { jsonParam, queryRows, toNumber, toNumberOrNull, type Db } from "./sql-util.js";

/** A stored token. `secretHash` is "scrypt$<params>$<salt>$<hash>"; the secret itself is never stored. */
export interface TokenRecord {
  id: string;
  name: string;
  project: string;
  role: Role;
  workerPattern: string;
  secretHash: string;
  createdAtMs: number;
  createdBy: string;
  expiresAtMs: number | null;
  lastUsedAtMs: number | null;
  revokedAtMs: number | null;
}

interface TokenRow {
  id: string;
  name: string;
  project: string;
  role: Role;
  worker_pattern: string;
  secret_hash: string;
  created_at_ms: number | string;
  created_by: string;
  expires_at_ms: number | string | null;
  last_used_at_ms: number | string | null;
  revoked_at_ms: number | string | null;
}

function rowToToken(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    project: row.project,
    role: row.role,
    workerPattern: row.worker_pattern,
    secretHash: row.secret_hash,
    createdAtMs: toNumber(row.created_at_ms),
    createdBy: row.created_by,
    expiresAtMs: toNumberOrNull(row.expires_at_ms),
    lastUsedAtMs: toNumberOrNull(row.last_used_at_ms),
    revokedAtMs: toNumberOrNull(row.revoked_at_ms),
  };
}

const COLUMNS = "id, name, project, role, worker_pattern, secret_hash, created_at_ms, created_by, expires_at_ms, last_used_at_ms, revoked_at_ms";

export async function insertToken(db: Db, t: TokenRecord): Promise<void> {
  await db.raw(`INSERT INTO api_tokens (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    t.id,
    t.name,
    t.project,
    t.role,
    t.workerPattern,
    t.secretHash,
    t.createdAtMs,
    t.createdBy,
    t.expiresAtMs,
    t.lastUsedAtMs,
    t.revokedAtMs,
  ]);
}

export async function selectTokens(db: Db, ids: readonly string[]): Promise<TokenRecord[]> {
  if (ids.length === 0) return [];
  const rows = await queryRows<TokenRow>(db, `SELECT ${COLUMNS} FROM api_tokens WHERE id IN (SELECT value FROM json_array_elements_text(?::json))`, [
    JSON.stringify(ids),
  ]);
  return rows.map(rowToToken);
}

/** Newest first; `activeAtMs` set: only tokens neither revoked nor expired at that time. */
export async function selectTokenList(db: Db, filter: { project?: string; activeAtMs?: number }): Promise<TokenRecord[]> {
  const where: string[] = [];
  const bindings: unknown[] = [];
  if (filter.project) {
    where.push("project = ?");
    bindings.push(filter.project);
  }
  if (filter.activeAtMs !== undefined) {
    where.push("revoked_at_ms IS NULL AND (expires_at_ms IS NULL OR expires_at_ms > ?)");
    bindings.push(filter.activeAtMs);
  }
  const rows = await queryRows<TokenRow>(
    db,
    `SELECT ${COLUMNS} FROM api_tokens ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at_ms DESC, id DESC`,
    bindings,
  );
  return rows.map(rowToToken);
}

/** Sets revoked_at_ms unless already revoked; returns the row after the update (null: no such id). */
export async function revokeToken(db: Db, id: string, nowMs: number): Promise<TokenRecord | null> {
  await db.raw(`UPDATE api_tokens SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL`, [nowMs, id]);
  return (await selectTokens(db, [id]))[0] ?? null;
}

/** Records last use for many tokens in one statement (never moves a time backwards). */
export async function updateLastUsed(db: Db, used: ReadonlyMap<string, number>): Promise<void> {
  if (used.size === 0) return;
  const rows = [...used].map(([id, ms]) => ({ id, ms }));
  await db.raw(
    `UPDATE api_tokens t SET last_used_at_ms = GREATEST(COALESCE(t.last_used_at_ms, 0), x.ms)
     FROM json_to_recordset(?::json) AS x(id text, ms bigint) WHERE t.id = x.id`,
    [jsonParam(rows)],
  );
}
