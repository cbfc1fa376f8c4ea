// `taskgrid top`, pure: the RPC answers -> a view (also the --json snapshot) -> one text frame.
// Nothing here reads the clock, the terminal or the network, so every frame is testable.
import type { GetSchedulerInfoResponse, Worker } from "../gen/taskgrid/v1/admin_service.js";
import { WorkerStatus } from "../gen/taskgrid/v1/types.js";
import { formatAge, formatDuration, formatNumber, formatTable, priorityName, queueName, truncate, workerStatusName } from "./format.js";

/** Active task states only: terminal totals would need a scan of the whole task table per frame. */
export const ACTIVE_STATES = ["QUEUED", "ASSIGNED", "RUNNING", "PAUSED"] as const;
export type ActiveState = (typeof ACTIVE_STATES)[number];

export interface TopInput {
  master: string;
  now: Date;
  info: GetSchedulerInfoResponse;
  workers: readonly Worker[];
  /** ASSIGNED/RUNNING/PAUSED counted from ListTasks; QUEUED comes from the scheduler's queues. */
  tasks: Partial<Record<ActiveState, number>>;
  /** True when the count stopped at the paging cap (the figures are lower bounds). */
  tasksTruncated?: boolean;
}

export interface TopWorkerRow {
  id: string;
  status: string;
  running: number;
  slots: number;
  /** 1-minute load / CPUs (1 = all cores busy); null without telemetry. */
  cpuLoad: number | null;
  /** Mean utilisation of its GPUs in percent; null without GPUs or telemetry. */
  gpuUtilization: number | null;
  gpus: number;
  tags: string[];
  lastSeenAt: string | null;
}

/** The --json snapshot; the text frame shows the same figures. */
export interface TopView {
  master: string;
  time: string;
  ordering: string;
  placement: string;
  weightsVersion: string;
  weightsError: string;
  tasks: Record<ActiveState, number>;
  tasksTruncated: boolean;
  queues: Array<{ queue: string; priority: string; length: number }>;
  decisions: number;
  decisionsByStrategy: Record<string, number>;
  fallbacks: number;
  fallbacksByReason: Record<string, number>;
  /** Fallbacks / decisions, 0..1; null before the first decision. */
  fallbackRate: number | null;
  deadlineMisses: number;
  workersByStatus: Record<string, number>;
  workers: TopWorkerRow[];
}

// Workers that take work first, then the ones in trouble; by id within a status so rows stay put between frames.
const STATUS_RANK: Record<string, number> = { ONLINE: 0, DRAINING: 1, SUSPECT: 2, OFFLINE: 3 };

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

export function workerRow(w: Worker): TopWorkerRow {
  const gpuTelemetry = w.telemetry?.gpus ?? [];
  return {
    id: w.id,
    status: workerStatusName(w.status),
    running: w.runningAttempts,
    slots: w.capacity?.maxTasks ?? 0,
    cpuLoad: w.telemetry ? w.telemetry.cpuLoad : null,
    gpuUtilization: gpuTelemetry.length > 0 ? sum(gpuTelemetry.map((g) => g.utilizationPercent)) / gpuTelemetry.length : null,
    gpus: w.capacity?.gpus.length ?? 0,
    tags: [...w.tags],
    lastSeenAt: w.lastSeenAt ? w.lastSeenAt.toISOString() : null,
  };
}

export function buildTopView(input: TopInput): TopView {
  const { info } = input;
  const decisions = sum(Object.values(info.decisionsByStrategy));
  const fallbacks = sum(Object.values(info.fallbacksByReason));
  const queued = sum(info.queueLengths.map((q) => q.length));
  const workers = input.workers
    .map(workerRow)
    .sort((a, b) => (STATUS_RANK[a.status] ?? 9) - (STATUS_RANK[b.status] ?? 9) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    master: input.master,
    time: input.now.toISOString(),
    ordering: info.orderingPolicy,
    placement: info.placementStrategy,
    weightsVersion: info.weightsVersion,
    weightsError: info.weightsError,
    tasks: { QUEUED: queued, ASSIGNED: input.tasks.ASSIGNED ?? 0, RUNNING: input.tasks.RUNNING ?? 0, PAUSED: input.tasks.PAUSED ?? 0 },
    tasksTruncated: input.tasksTruncated ?? false,
    queues: info.queueLengths
      .filter((q) => q.length > 0)
      .map((q) => ({ queue: queueName(q.queueClass), priority: priorityName(q.priority), length: q.length })),
    decisions,
    decisionsByStrategy: { ...info.decisionsByStrategy },
    fallbacks,
    fallbacksByReason: { ...info.fallbacksByReason },
    fallbackRate: decisions > 0 ? fallbacks / decisions : null,
    deadlineMisses: info.deadlineMisses,
    workersByStatus: Object.fromEntries(
      info.workersByStatus.filter((c) => c.status !== WorkerStatus.WORKER_STATUS_UNSPECIFIED).map((c) => [workerStatusName(c.status), c.count]),
    ),
    workers,
  };
}

export interface FrameOptions {
  /** Set in live mode: the header says how often it refreshes and how to quit. */
  intervalMs?: number;
  /** Terminal height: worker rows beyond it are summarised in one line. */
  rows?: number;
  /** Terminal width: longer lines are cut (a wrapped line would scroll the frame). */
  columns?: number;
  /** The last refresh failed: shown on top while the previous figures stay. */
  error?: string;
}

const pairs = (map: Record<string, number>) =>
  Object.entries(map)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");

/** Workers by status in the table's order (ONLINE first), not alphabetical. */
const statusPairs = (map: Record<string, number>) =>
  Object.entries(map)
    .sort(([a], [b]) => (STATUS_RANK[a] ?? 9) - (STATUS_RANK[b] ?? 9))
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");

/** Local wall-clock time, as the person watching reads it. */
function clockTime(iso: string): string {
  const t = new Date(iso);
  return [t.getHours(), t.getMinutes(), t.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

function headerLines(v: TopView, o: FrameOptions): string[] {
  const live = o.intervalMs !== undefined ? `  (every ${formatDuration(o.intervalMs)}, q to quit)` : "";
  const lines = [`taskgrid top: master ${v.master} at ${clockTime(v.time)}${live}`];
  if (o.error) lines.push(`error: ${o.error} (showing the last figures; retrying)`);
  const plus = v.tasksTruncated ? "+" : "";
  lines.push(`Scheduler:  ${v.placement} placement, ${v.ordering} ordering, weights ${truncate(v.weightsVersion || "-", 16)}`);
  if (v.weightsError) lines.push(`Weights:    reload error: ${v.weightsError}`);
  lines.push(
    `Tasks:      ${ACTIVE_STATES.map((s) => `${s} ${v.tasks[s]}${s === "QUEUED" ? "" : plus}`).join("  ")}`,
    `Queues:     ${v.queues.length === 0 ? "empty" : v.queues.map((q) => `${q.queue}/${q.priority} ${q.length}`).join("  ")}`,
    `Decisions:  ${v.decisions}${v.decisions > 0 ? ` (${pairs(v.decisionsByStrategy)})` : ""}` +
      `  fallbacks ${v.fallbacks}${v.fallbackRate === null ? "" : ` (${formatNumber(v.fallbackRate * 100, 1)}%)`}` +
      `${v.fallbacks > 0 ? ` ${pairs(v.fallbacksByReason)}` : ""}  deadline misses ${v.deadlineMisses}`,
    `Workers:    ${v.workers.length} (${statusPairs(v.workersByStatus) || "none"})`,
  );
  return lines;
}

function workerCells(w: TopWorkerRow, now: Date): string[] {
  return [
    w.id,
    w.status,
    `${w.running}/${w.slots}`,
    w.cpuLoad === null ? "-" : formatNumber(w.cpuLoad, 2),
    w.gpus === 0 ? "-" : w.gpuUtilization === null ? `-/${w.gpus}` : `${Math.round(w.gpuUtilization)}%/${w.gpus}`,
    w.lastSeenAt ? formatAge(new Date(w.lastSeenAt), now) : "-",
    w.tags.join(",") || "-",
  ];
}

const HEADERS = ["WORKER", "STATUS", "RUNNING", "LOAD", "GPU", "SEEN", "TAGS"];

/** One frame of plain text (no ANSI); the caller adds the clear/home codes on a terminal. */
export function renderTopFrame(v: TopView, o: FrameOptions = {}): string {
  const now = new Date(v.time);
  const lines = [...headerLines(v, o), ""];
  if (v.workers.length === 0) {
    lines.push("No workers have registered.");
  } else {
    // Room for the table header and one "more" line; never fewer than one worker row.
    const room = o.rows === undefined ? Infinity : Math.max(1, o.rows - lines.length - 2);
    const shown = v.workers.length > room ? v.workers.slice(0, Math.max(1, room - 1)) : v.workers;
    lines.push(
      ...formatTable(
        HEADERS,
        shown.map((w) => workerCells(w, now)),
      )
        .trimEnd()
        .split("\n"),
    );
    if (shown.length < v.workers.length)
      lines.push(`… and ${v.workers.length - shown.length} more workers (make the terminal taller, or use taskgrid workers)`);
  }
  const cut = o.columns === undefined || o.columns < 1 ? lines : lines.map((l) => truncate(l, o.columns!));
  return `${cut.join("\n")}\n`;
}
