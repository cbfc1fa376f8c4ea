// Pure parsers for flag values (durations, CPU, memory, k=v pairs, enums). Each throws a UsageError
// that names the flag and the expected form, so `taskgrid submit --cpu x` says exactly what is wrong.
import { Priority, QueueClass, Role, TaskState } from "../gen/taskgrid/v1/types.js";
import { UsageError } from "./usage-error.js";

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** "1500ms", "30s", "5m", "1h30m", "1.5h", "2d" -> milliseconds; "0" alone is allowed. */
export function parseDurationMs(text: string, flag: string): number {
  const s = text.trim();
  if (s === "0") return 0;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(s);
    if (!m) break;
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]];
    pos = DURATION_PART.lastIndex;
  }
  if (s.length === 0 || pos !== s.length) {
    throw new UsageError(`--${flag}: "${text}" is not a duration (use e.g. 1500ms, 30s, 5m, 1h30m, 2d)`);
  }
  return Math.round(total);
}

/** A deadline as an ISO time ("2025-01-31T18:00:00Z") or "+duration" from now. */
export function parseDeadline(text: string, flag: string, now: Date): Date {
  const s = text.trim();
  if (s.startsWith("+")) return new Date(now.getTime() + parseDurationMs(s.slice(1), flag));
  const ms = /^\d{4}-\d{2}-\d{2}/.test(s) ? Date.parse(s) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--${flag}: "${text}" is not an ISO time (2025-01-31T18:00:00Z) or +duration (+30m)`);
  return new Date(ms);
}

// Plain numbers are cores (Kubernetes style); beyond this many cores it is surely meant as millicores.
const MAX_PLAIN_CORES = 1024;

/** "0.5" or "2" cores, or "500m" millicores -> millicores. */
export function parseCpuMillis(text: string, flag: string): number {
  const s = text.trim();
  const milli = /^(\d+)m$/.exec(s);
  if (milli) return positiveOrZero(Number(milli[1]), flag, text);
  if (!/^\d+(\.\d+)?$/.test(s)) throw new UsageError(`--${flag}: "${text}" is not a CPU amount (cores like 0.5 or 2, or millicores like 500m)`);
  const cores = Number(s);
  if (cores > MAX_PLAIN_CORES) throw new UsageError(`--${flag}: ${text} cores is more than any machine has; write ${s}m for millicores`);
  return Math.round(cores * 1000);
}

const MEMORY_UNITS_MIB: Record<string, number> = {
  "": 1,
  m: 1,
  mi: 1,
  mib: 1,
  mb: 1,
  g: 1024,
  gi: 1024,
  gib: 1024,
  gb: 1024,
  t: 1024 * 1024,
  ti: 1024 * 1024,
  tib: 1024 * 1024,
};

/** "512" MiB, or with a unit: "512Mi", "2G", "1.5GiB" -> MiB (binary units throughout). */
export function parseMemoryMib(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = m ? MEMORY_UNITS_MIB[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`--${flag}: "${text}" is not a memory size (MiB like 512, or 512Mi, 2Gi)`);
  return Math.round(Number(m[1]) * unit);
}

/** A whole number in [min, max]. */
export function parseInteger(text: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${flag}: "${text}" is not a whole number`);
  const n = Number(text);
  if (n < min || n > max) {
    throw new UsageError(`--${flag}: ${n} is out of range (${max === Number.MAX_SAFE_INTEGER ? `must be >= ${min}` : `${min}..${max}`})`);
  }
  return n;
}

/** A decimal number in [min, max]. */
export function parseNumber(text: string, flag: string, min: number, max: number): number {
  const n = text.trim() === "" ? NaN : Number(text);
  if (!Number.isFinite(n)) throw new UsageError(`--${flag}: "${text}" is not a number`);
  if (n < min || n > max) throw new UsageError(`--${flag}: ${n} is out of range (${min}..${max})`);
  return n;
}

/** true/false, yes/no, 1/0 (any case). */
export function parseBoolean(text: string, flag: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === "true" || t === "yes" || t === "1") return true;
  if (t === "false" || t === "no" || t === "0") return false;
  throw new UsageError(`--${flag}: "${text}" is not true or false`);
}

/** A preemption signal name; "term" and "SIGTERM" alike. The master checks it against its list. */
export function parseSignal(text: string, flag: string): string {
  const t = text.trim().toUpperCase();
  const name = t.startsWith("SIG") ? t : `SIG${t}`;
  if (!/^SIG[A-Z0-9]+$/.test(name)) throw new UsageError(`--${flag}: "${text}" is not a signal name (e.g. SIGTERM, USR1)`);
  return name;
}

function positiveOrZero(n: number, flag: string, text: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${flag}: "${text}" is out of range`);
  return n;
}

/** "k=v" (value may be empty or contain "=") -> [k, v]. */
export function parseKeyValue(text: string, flag: string): [string, string] {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new UsageError(`--${flag}: "${text}" is not KEY=VALUE`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** Repeated k=v flags -> a map; a key given twice is an error (silently keeping one hides typos). */
export function parseKeyValues(texts: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const text of texts) {
    const [k, v] = parseKeyValue(text, flag);
    if (k in out) throw new UsageError(`--${flag}: key "${k}" given more than once`);
    out[k] = v;
  }
  return out;
}

/** Repeated and/or comma-separated values -> a flat list without blanks. */
export function parseList(texts: readonly string[]): string[] {
  return texts
    .flatMap((t) => t.split(","))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function parseEnum<E extends number>(text: string, flag: string, prefix: string, values: Record<string, E>): E {
  const key = text.trim().toUpperCase().replace(/-/g, "_");
  const bare = key.startsWith(prefix) ? key.slice(prefix.length) : key;
  const value = values[bare];
  if (value === undefined)
    throw new UsageError(
      `--${flag}: "${text}" is not one of ${Object.keys(values)
        .map((k) => k.toLowerCase())
        .join(", ")}`,
    );
  return value;
}

export function parseQueueClass(text: string, flag = "queue"): QueueClass {
  return parseEnum(text, flag, "QUEUE_CLASS_", {
    LIVE: QueueClass.QUEUE_CLASS_LIVE,
    DEFAULT: QueueClass.QUEUE_CLASS_DEFAULT,
    BATCH: QueueClass.QUEUE_CLASS_BATCH,
  });
}

export function parsePriority(text: string, flag = "priority"): Priority {
  return parseEnum(text, flag, "PRIORITY_", { HIGH: Priority.PRIORITY_HIGH, NORMAL: Priority.PRIORITY_NORMAL, LOW: Priority.PRIORITY_LOW });
}

export function parseRole(text: string, flag = "role"): Role {
  return parseEnum(text, flag, "ROLE_", { VIEWER: Role.ROLE_VIEWER, SUBMITTER: Role.ROLE_SUBMITTER, ADMIN: Role.ROLE_ADMIN, AGENT: Role.ROLE_AGENT });
}

/** Longest token lifetime the master accepts (10 years). */
export const MAX_TOKEN_LIFETIME_SECONDS = 10 * 365 * 24 * 3600;

/** A token lifetime: "30d", "12h", "90m", "1h30m" -> seconds; "0" or "never" -> 0 (does not expire). */
export function parseExpiresSeconds(text: string, flag = "expires"): number {
  const s = text.trim().toLowerCase();
  if (s === "0" || s === "never") return 0;
  const ms = parseDurationMs(s, flag);
  if (ms < 1000) throw new UsageError(`--${flag}: "${text}" is shorter than a second (use e.g. 90m, 12h, 30d, or 0 for never)`);
  const seconds = Math.round(ms / 1000);
  if (seconds > MAX_TOKEN_LIFETIME_SECONDS)
    throw new UsageError(`--${flag}: "${text}" is longer than 10 years (3650d); use 0 for a token that does not expire`);
  return seconds;
}

const TASK_STATES: Record<string, TaskState> = {
  QUEUED: TaskState.TASK_STATE_QUEUED,
  ASSIGNED: TaskState.TASK_STATE_ASSIGNED,
  RUNNING: TaskState.TASK_STATE_RUNNING,
  PAUSED: TaskState.TASK_STATE_PAUSED,
  SUCCEEDED: TaskState.TASK_STATE_SUCCEEDED,
  FAILED: TaskState.TASK_STATE_FAILED,
  CANCELED: TaskState.TASK_STATE_CANCELED,
};

/** Repeated and/or comma-separated states ("running,queued") -> distinct TaskStates. */
export function parseTaskStates(texts: readonly string[], flag = "state"): TaskState[] {
  return [...new Set(parseList(texts).map((t) => parseEnum(t, flag, "TASK_STATE_", TASK_STATES)))];
}

/** "host:port" (host may be a bracketed IPv6 address). */
export function parseAddress(text: string, flag: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/.test(text.trim())) throw new UsageError(`--${flag}: "${text}" is not host:port`);
  return text.trim();
}
