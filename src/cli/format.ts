// Pure text formatting for human output: tables, ages, durations, enum names, progress bars.
// Everything takes `now` explicitly so the output is testable.
import { attemptOutcomeToJSON, priorityToJSON, queueClassToJSON, roleToJSON, taskStateToJSON, workerStatusToJSON } from "../gen/taskgrid/v1/types.js";
import type { AttemptOutcome, Priority, QueueClass, Role, TaskState, WorkerStatus } from "../gen/taskgrid/v1/types.js";

/** Column-aligned table; the last column is not padded (no trailing spaces). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c])))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

/** Shortens text to at most `max` characters, marking the cut with "…". */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** 1500 -> "1.5s", 90_000 -> "1m30s", 7_200_000 -> "2h", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${trimZeros((ms / 1000).toFixed(1))}s`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.slice(0, 2).join("");
}

function trimZeros(s: string): string {
  return s.replace(/\.0$/, "");
}

/** Time since `then` in the largest whole unit: "12s", "5m", "3h", "2d"; "-" when unknown. */
export function formatAge(then: Date | undefined, now: Date): string {
  if (!then) return "-";
  const s = Math.max(0, Math.floor((now.getTime() - then.getTime()) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function formatTime(t: Date | undefined): string {
  return t ? t.toISOString() : "-";
}

/** Enum names without their proto prefix, as people type them: "RUNNING", "LIVE", "HIGH". */
export const stateName = (s: TaskState) => taskStateToJSON(s).replace(/^TASK_STATE_/, "");
export const queueName = (q: QueueClass) => queueClassToJSON(q).replace(/^QUEUE_CLASS_/, "");
export const priorityName = (p: Priority) => priorityToJSON(p).replace(/^PRIORITY_/, "");
export const outcomeName = (o: AttemptOutcome) => attemptOutcomeToJSON(o).replace(/^ATTEMPT_OUTCOME_/, "");
export const workerStatusName = (s: WorkerStatus) => workerStatusToJSON(s).replace(/^WORKER_STATUS_/, "");
/** Roles in lower case, as `token create --role` takes them: "viewer", "admin". */
export const roleName = (r: Role) =>
  roleToJSON(r)
    .replace(/^ROLE_/, "")
    .toLowerCase();

/** Millicores -> cores for display: 1500 -> "1.5", 250 -> "0.25". */
export function formatCores(millis: number): string {
  return String(Math.round(millis / 10) / 100);
}

/** MiB -> "512Mi" / "1.5Gi" / "2Ti". */
export function formatMib(mib: number): string {
  if (mib < 1024) return `${Math.round(mib)}Mi`;
  if (mib < 1024 * 1024) return `${trimZeros((mib / 1024).toFixed(1))}Gi`;
  return `${trimZeros((mib / 1024 / 1024).toFixed(1))}Ti`;
}

/** "[#########...........]  42%" for progress 0..100. */
export function progressBar(percent: number, width = 30): string {
  const p = Math.min(100, Math.max(0, percent));
  const filled = Math.round((p / 100) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.round(p)).padStart(3)}%`;
}

/** Prints a number with at most `digits` decimals (factor values, weights). */
export function formatNumber(n: number, digits = 3): string {
  return String(Number(n.toFixed(digits)));
}

/** Indented "key: value" lines, skipping empty values. */
export function formatFields(fields: ReadonlyArray<readonly [string, string | undefined]>, indent = ""): string {
  const shown = fields.filter(([, v]) => v !== undefined && v !== "");
  const width = Math.max(0, ...shown.map(([k]) => k.length)) + 1;
  return shown.map(([k, v]) => `${indent}${(`${k}:`).padEnd(width)} ${v}\n`).join("");
}
