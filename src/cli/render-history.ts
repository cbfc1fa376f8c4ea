// `taskgrid history` output: the columns --format picks from (sacct's names in the table header,
// human units in the table, raw numbers in CSV), and the CSV writer. Pure: rows in, text out.
import type { HistoryRow } from "../gen/taskgrid/v1/history.js";
import { formatDuration, formatTable, formatTime, stateName } from "./format.js";
import { UsageError } from "./usage-error.js";

interface Column {
  /** The table's header (sacct's name where it has one). */
  header: string;
  /** CSV's header: says the unit of the raw value. */
  csvHeader: string;
  human(row: HistoryRow): string;
  raw(row: HistoryRow): string;
}

const optional = (n: number | undefined, show: (n: number) => string): string => (n === undefined ? "" : show(n));

/** KiB -> "812K", "195.3M", "2.1G" (sacct's MaxRSS style). */
export function formatKib(kib: number): string {
  if (kib < 1024) return `${kib}K`;
  if (kib < 1024 * 1024) return `${trim((kib / 1024).toFixed(1))}M`;
  return `${trim((kib / 1024 / 1024).toFixed(1))}G`;
}

const trim = (s: string) => s.replace(/\.0$/, "");

/** "3", or the signal's name when one killed it (exit code -1). */
const exitText = (row: HistoryRow) => (row.signal ? row.signal : String(row.exitCode));

export const HISTORY_COLUMNS: Readonly<Record<string, Column>> = {
  id: { header: "JobID", csvHeader: "task_id", human: (r) => r.taskId, raw: (r) => r.taskId },
  name: { header: "Name", csvHeader: "name", human: (r) => r.name || "-", raw: (r) => r.name },
  project: { header: "Project", csvHeader: "project", human: (r) => r.project || "-", raw: (r) => r.project },
  kind: { header: "Kind", csvHeader: "kind", human: (r) => r.kind || "-", raw: (r) => r.kind },
  state: { header: "State", csvHeader: "state", human: (r) => stateName(r.state), raw: (r) => stateName(r.state) },
  exit: { header: "ExitCode", csvHeader: "exit_code", human: exitText, raw: (r) => String(r.exitCode) },
  signal: { header: "Signal", csvHeader: "signal", human: (r) => r.signal || "-", raw: (r) => r.signal },
  worker: { header: "Worker", csvHeader: "worker", human: (r) => r.workerId || "-", raw: (r) => r.workerId },
  attempts: { header: "Attempts", csvHeader: "attempts", human: (r) => String(r.attempts), raw: (r) => String(r.attempts) },
  submit: { header: "Submit", csvHeader: "submitted_at", human: (r) => formatTime(r.submittedAt), raw: (r) => r.submittedAt?.toISOString() ?? "" },
  start: { header: "Start", csvHeader: "started_at", human: (r) => formatTime(r.startedAt), raw: (r) => r.startedAt?.toISOString() ?? "" },
  end: { header: "End", csvHeader: "ended_at", human: (r) => formatTime(r.endedAt), raw: (r) => r.endedAt?.toISOString() ?? "" },
  wait: { header: "Wait", csvHeader: "wait_ms", human: (r) => optional(r.waitMs, formatDuration) || "-", raw: (r) => optional(r.waitMs, String) },
  run: { header: "Elapsed", csvHeader: "run_ms", human: (r) => formatDuration(r.runMs), raw: (r) => String(r.runMs) },
  cpu: { header: "CPUTime", csvHeader: "cpu_time_ms", human: (r) => optional(r.cpuTimeMs, formatDuration) || "-", raw: (r) => optional(r.cpuTimeMs, String) },
  rss: { header: "MaxRSS", csvHeader: "max_rss_kib", human: (r) => optional(r.maxRssKib, formatKib) || "-", raw: (r) => optional(r.maxRssKib, String) },
  gpus: { header: "GPUSeconds", csvHeader: "gpu_seconds", human: (r) => trim(r.gpuSeconds.toFixed(1)), raw: (r) => String(r.gpuSeconds) },
};

/** Like sacct's defaults: JobID, State, ExitCode, plus where and how long it ran and what it used. */
export const DEFAULT_HISTORY_FORMAT = ["id", "state", "exit", "worker", "wait", "run", "cpu", "rss"];

/** "id,state,cpu" -> the column keys, each checked. */
export function parseHistoryFormat(text: string): string[] {
  const keys = text
    .split(",")
    .map((k) => k.trim().toLowerCase())
    .filter((k) => k !== "");
  if (keys.length === 0) throw new UsageError(`--format: name at least one column (${Object.keys(HISTORY_COLUMNS).join(",")})`);
  for (const key of keys) {
    if (!HISTORY_COLUMNS[key]) throw new UsageError(`--format: unknown column "${key}" (columns: ${Object.keys(HISTORY_COLUMNS).join(",")})`);
  }
  return keys;
}

export function formatHistoryTable(rows: readonly HistoryRow[], keys: readonly string[]): string {
  const columns = keys.map((k) => HISTORY_COLUMNS[k]);
  return formatTable(
    columns.map((c) => c.header),
    rows.map((r) => columns.map((c) => c.human(r))),
  );
}

/** CSV as RFC 4180 quotes it (fields with a comma, quote or line break), lines ending in \n as Unix tools expect. */
export function formatHistoryCsv(rows: readonly HistoryRow[], keys: readonly string[]): string {
  const columns = keys.map((k) => HISTORY_COLUMNS[k]);
  const line = (cells: readonly string[]) => cells.map(csvField).join(",");
  return [line(columns.map((c) => c.csvHeader)), ...rows.map((r) => line(columns.map((c) => c.raw(r))))].map((l) => `${l}\n`).join("");
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
