// Creating tokens (the CreateToken RPC and the bootstrap admin token) and their proto form.
import { writeFile, chmod } from "node:fs/promises";
import type { Role } from "../../src/core/access.js";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { noNul } from "../../src/core/text-rules.js";
import type { ApiToken, CreateTokenRequest } from "../../src/gen/taskgrid/v1/admin_service.js";
import type { TokenRecord, TokenStore } from "../../src/store/store-types.js";
import { roleEnum } from "../convert/enums.js";
import type { Logger } from "../logger.js";
import { hashSecret, newToken } from "./token-secret.js";

export interface NewTokenInput {
  project: string;
  role: Role;
  name: string;
  /** null: never expires. */
  expiresAtMs: number | null;
  workerPattern: string;
  /** Token id of the admin who created it; "" for the bootstrap token. */
  createdBy: string;
}

const MAX_LIFETIME_SECONDS = 10 * 365 * 24 * 3600;

/** Checks a CreateTokenRequest at the edge; INVALID_ARGUMENT names the field and the rule. */
export function tokenInputFromProto(req: CreateTokenRequest, createdBy: string, nowMs: number): NewTokenInput {
  if (!req.project) throw new InvalidArgumentError("project", "is required");
  if (req.project.length > 256) throw new InvalidArgumentError("project", "at most 256 characters");
  noNul("project", req.project);
  if (req.role === 0) throw new InvalidArgumentError("role", "is required (viewer, submitter, admin or agent)");
  const role = roleEnum.toDomain(req.role, "role");
  if (req.name.length > 128) throw new InvalidArgumentError("name", "at most 128 characters");
  noNul("name", req.name);
  if (!Number.isInteger(req.expiresInSeconds) || req.expiresInSeconds < 0 || req.expiresInSeconds > MAX_LIFETIME_SECONDS) {
    throw new InvalidArgumentError("expires_in_seconds", `must be 0 (never) .. ${MAX_LIFETIME_SECONDS} (10 years)`);
  }
  if (req.workerPattern !== "" && role !== "agent") throw new InvalidArgumentError("worker_pattern", "only agent tokens are bound to worker ids");
  if (!/^[A-Za-z0-9._*-]{0,128}$/.test(req.workerPattern))
    throw new InvalidArgumentError("worker_pattern", "at most 128 of A-Z a-z 0-9 . _ - and * (any run of characters)");
  return {
    project: req.project,
    role,
    name: req.name || `${role}@${req.project}`,
    expiresAtMs: req.expiresInSeconds === 0 ? null : nowMs + req.expiresInSeconds * 1000,
    workerPattern: req.workerPattern,
    createdBy,
  };
}

/** Stores a new token (hashed) and returns it with the secret, which exists nowhere else. */
export async function createToken(tokens: TokenStore, input: NewTokenInput, nowMs: number): Promise<{ record: TokenRecord; token: string }> {
  const { id, secret, token } = newToken();
  const record: TokenRecord = { id, ...input, secretHash: await hashSecret(secret), createdAtMs: nowMs, lastUsedAtMs: null, revokedAtMs: null };
  await tokens.insert(record);
  return { record, token };
}

/**
 * With auth on, a database without a working admin token gets one, so the first admin can create
 * the rest: written to `file` (mode 0600) when given, else printed once in the log.
 */
export async function ensureAdminToken(tokens: TokenStore, file: string | null, log: Logger, nowMs: number): Promise<void> {
  const active = await tokens.list({ activeAtMs: nowMs });
  if (active.some((t) => t.role === "admin")) return;
  const { record, token } = await createToken(
    tokens,
    { project: "admin", role: "admin", name: "bootstrap admin", expiresAtMs: null, workerPattern: "", createdBy: "" },
    nowMs,
  );
  if (file) {
    await writeFile(file, `${token}\n`, { mode: 0o600 });
    await chmod(file, 0o600); // writeFile's mode applies only when it creates the file
    log.warn("auth: no admin token existed; created one", { token: record.id, file });
  } else {
    log.warn("auth: no admin token existed; created one. Store this secret now, it is not shown again", { token: record.id, secret: token });
  }
}

export function tokenToProto(t: TokenRecord): ApiToken {
  return {
    id: t.id,
    name: t.name,
    project: t.project,
    role: roleEnum.toProto(t.role),
    workerPattern: t.workerPattern,
    createdAt: new Date(t.createdAtMs),
    expiresAt: t.expiresAtMs === null ? undefined : new Date(t.expiresAtMs),
    lastUsedAt: t.lastUsedAtMs === null ? undefined : new Date(t.lastUsedAtMs),
    revokedAt: t.revokedAtMs === null ? undefined : new Date(t.revokedAtMs),
    createdBy: t.createdBy,
  };
}
