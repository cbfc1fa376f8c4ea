// Human renderings of API tokens: the `token ls` table, one token in detail (`whoami`, `revoke`)
// and the note printed beside a new token's secret. Pure: `now` is passed in.
import type { ApiToken, CreateTokenResponse, WhoAmIResponse } from "../gen/taskgrid/v1/admin_service.js";
import { Role } from "../gen/taskgrid/v1/types.js";
import { formatAge, formatFields, formatTable, formatTime, roleName, truncate } from "./format.js";

/** "3m ago"; "never" when unset. */
function ago(t: Date | undefined, now: Date, none = "never"): string {
  return t ? `${formatAge(t, now)} ago` : none;
}

/** "never", "in 30d", or "expired 2h ago". */
export function formatExpiry(expiresAt: Date | undefined, now: Date): string {
  if (!expiresAt) return "never";
  if (expiresAt.getTime() <= now.getTime()) return `expired ${formatAge(expiresAt, now)} ago`;
  // A second of slack, so a token made with --expires 30d a moment ago reads "in 30d", not "in 29d".
  return `in ${formatAge(new Date(now.getTime() - 1000), expiresAt)}`;
}

/** Agent tokens: the worker ids it may register as ("*" when any); "-" for other roles. */
function workersOf(t: ApiToken): string {
  return t.role === Role.ROLE_AGENT ? t.workerPattern || "*" : "-";
}

export function formatTokenTable(tokens: readonly ApiToken[], now: Date): string {
  const rows = tokens.map((t) => [
    t.id,
    truncate(t.name, 32),
    t.project,
    roleName(t.role),
    workersOf(t),
    ago(t.createdAt, now, "-"),
    formatExpiry(t.expiresAt, now),
    ago(t.lastUsedAt, now),
    t.revokedAt ? `${formatAge(t.revokedAt, now)} ago` : "-",
  ]);
  return formatTable(["ID", "NAME", "PROJECT", "ROLE", "WORKERS", "CREATED", "EXPIRES", "LAST USED", "REVOKED"], rows);
}

/** One token as "Key: value" lines; `extra` lines are aligned with them. */
export function formatTokenDetail(t: ApiToken, now: Date, extra: ReadonlyArray<readonly [string, string | undefined]> = []): string {
  return formatFields([
    ["Token", t.id],
    ["Name", t.name],
    ["Project", t.project],
    ["Role", roleName(t.role)],
    ["Workers", t.role === Role.ROLE_AGENT ? t.workerPattern || "* (any worker id)" : undefined],
    ["Created", t.createdAt ? `${formatTime(t.createdAt)} (${formatAge(t.createdAt, now)} ago)${t.createdBy ? ` by token ${t.createdBy}` : ""}` : undefined],
    ["Expires", t.expiresAt ? `${formatTime(t.expiresAt)} (${formatExpiry(t.expiresAt, now)})` : "never"],
    ["Last used", t.lastUsedAt ? `${formatTime(t.lastUsedAt)} (${formatAge(t.lastUsedAt, now)} ago)` : "never"],
    ["Revoked", t.revokedAt ? `${formatTime(t.revokedAt)} (${formatAge(t.revokedAt, now)} ago)` : undefined],
    ...extra,
  ]);
}

/** The stderr note beside the secret of a new token (the secret itself goes to stdout alone). */
export function formatCreatedNote(res: CreateTokenResponse, now: Date): string {
  const t = res.token;
  const what = t
    ? `created token ${t.id} "${t.name}": role ${roleName(t.role)}, project ${t.project}` +
      `${t.role === Role.ROLE_AGENT ? `, workers ${t.workerPattern || "*"}` : ""}, expires ${t.expiresAt ? `${formatTime(t.expiresAt)} (${formatExpiry(t.expiresAt, now)})` : "never"}`
    : "created a token";
  return `${what}\nThe secret above is shown only this once: store it now (e.g. in ~/.config/taskgrid/credentials, mode 0600).\n`;
}

/** `token whoami`: the caller's token, or that the master does not check tokens. */
export function formatWhoAmI(res: WhoAmIResponse, now: Date, source: string | undefined): string {
  if (!res.authEnabled) {
    return `auth is off on this master: calls need no token and may do everything${source ? ` (the token from ${source} is not checked)` : ""}\n`;
  }
  if (!res.token) return "auth is on, but the master returned no token for this caller\n";
  return formatTokenDetail(res.token, now, [["From", source]]);
}
