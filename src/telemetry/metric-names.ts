// The metric names and labels the master exports at /metrics (DESIGN §7). These names are a
// contract: dashboards (config/grafana/taskgrid.json), alerts and the tests all read this one list.
// Names are as they appear in the Prometheus text output (counters end in `_total`; histograms also
// expose `<name>_bucket{le}`, `<name>_sum` and `<name>_count`).
import { FALLBACK_NO_FRESH_TELEMETRY, FALLBACK_RTS_ERROR, FALLBACK_WEIGHTS_NOT_LOADED } from "../core/rts/rts-placement.js";

export type MetricKind = "counter" | "gauge" | "histogram";

export interface MetricDoc {
  /** Name in the Prometheus output. */
  name: string;
  kind: MetricKind;
  /** Label names (histograms additionally have `le` on their `_bucket` series). */
  labels: readonly string[];
  help: string;
}

/** Buckets (seconds) for task wait and run times: 1 ms to 1 h. */
export const TASK_SECONDS_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
];

/** Buckets (seconds) for one placement decision: 1 us to 1 s. */
export const DECISION_SECONDS_BUCKETS: readonly number[] = [
  0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

/** DESIGN §7: the scheduler's own metrics. */
export const TASKGRID_METRICS: readonly MetricDoc[] = [
  {
    name: "taskgrid_tasks_submitted_total",
    kind: "counter",
    labels: [],
    help: "Tasks accepted by Submit since the master started (idempotent replays not counted).",
  },
  {
    name: "taskgrid_tasks_finished_total",
    kind: "counter",
    labels: ["outcome"],
    help: "Tasks that reached a terminal state since the master started, by terminal state (SUCCEEDED, FAILED, CANCELED).",
  },
  {
    name: "taskgrid_tasks",
    kind: "gauge",
    labels: ["state"],
    help: "Tasks by state: QUEUED/ASSIGNED/RUNNING/PAUSED are the tasks in memory now; SUCCEEDED/FAILED/CANCELED count tasks finished since the master started.",
  },
  {
    name: "taskgrid_queue_length",
    kind: "gauge",
    labels: ["queue", "priority"],
    help: "QUEUED tasks waiting for placement, by queue class (LIVE, DEFAULT, BATCH) and priority (HIGH, NORMAL, LOW).",
  },
  {
    name: "taskgrid_task_wait_seconds",
    kind: "histogram",
    labels: [],
    help: "Time a task spent QUEUED before a placement decision (per attempt; a requeued task waits again).",
  },
  {
    name: "taskgrid_task_run_seconds",
    kind: "histogram",
    labels: [],
    help: "Run time of each attempt that ran, as reported by the agent (LOST and START_FAILED attempts excluded).",
  },
  { name: "taskgrid_workers", kind: "gauge", labels: ["status"], help: "Known workers by status (ONLINE, SUSPECT, OFFLINE, DRAINING)." },
  {
    name: "taskgrid_scheduler_decisions_total",
    kind: "counter",
    labels: ["strategy"],
    help: "Placement decisions by the strategy that made them (rts, round_robin).",
  },
  { name: "taskgrid_scheduler_fallbacks_total", kind: "counter", labels: ["reason"], help: "Decisions where RTS fell back to round-robin, by reason." },
  { name: "taskgrid_scheduler_decision_seconds", kind: "histogram", labels: [], help: "Time the placement strategy took for one decision." },
  {
    name: "taskgrid_deadline_misses_total",
    kind: "counter",
    labels: [],
    help: "Tasks whose attempt finished after the task's effective deadline (each task counted once).",
  },
  { name: "taskgrid_weights_reloads_total", kind: "counter", labels: ["result"], help: "Weights file reload attempts by result (success, failure)." },
  {
    name: "taskgrid_auth_failures_total",
    kind: "counter",
    labels: ["reason"],
    help: "Calls refused as UNAUTHENTICATED with auth on, by reason (missing, malformed, unknown, bad_secret, expired, revoked, rate_limited).",
  },
  {
    name: "taskgrid_reports_rejected_total",
    kind: "counter",
    labels: ["reason"],
    help: "Agent reports not applied: stale (the attempt is no longer live, e.g. a report sent again after its commit) or foreign (the attempt is live on another worker: a confused or impersonating agent).",
  },
  {
    name: "taskgrid_preemptions_total",
    kind: "counter",
    labels: ["reason"],
    help: "Attempts told to stop for a higher-ranked task, by reason: queue_class (the preemptor's class is higher) or priority (same class, higher priority by the margin); rate_limited counts preemptions held back by the rate limit.",
  },
  {
    name: "taskgrid_leader",
    kind: "gauge",
    labels: ["epoch"],
    help: "1 while this master leads, 0 while it is a standby; the epoch label is the leadership epoch it last saw (it grows with every change of leader).",
  },
  {
    name: "taskgrid_failovers_total",
    kind: "counter",
    labels: [],
    help: "Terms this master won after another master process had led (a standby taking over, or a restart of a leader).",
  },
  {
    name: "taskgrid_project_usage",
    kind: "gauge",
    labels: ["project", "resource"],
    help: "What each project's running tasks hold now, per resource: cpu (cores), memory (GiB), gpu, tasks and gpu:<model>.",
  },
  {
    name: "taskgrid_project_quota",
    kind: "gauge",
    labels: ["kind", "project", "resource"],
    help: "Each project's quota per resource, by kind: nominal, borrowing_limit, lending_limit (a resource without a limit has no series).",
  },
  {
    name: "taskgrid_fairshare_factor",
    kind: "gauge",
    labels: ["project"],
    help: "Each project's fair-share factor F = 2^(-U_norm/S_norm) from its decayed usage and shares: 1 = has used nothing, 0.5 = used exactly its share.",
  },
  {
    name: "taskgrid_weights_info",
    kind: "gauge",
    labels: ["version"],
    help: 'Always 1; the version label is the RTS weights version in use (sha256 prefix of the file, or "defaults").',
  },
  {
    name: "taskgrid_worker_cpu_load",
    kind: "gauge",
    labels: ["worker"],
    help: "Worker 1-minute load average divided by its CPU count (1 = all cores busy), from its last heartbeat; OFFLINE workers omitted.",
  },
  {
    name: "taskgrid_worker_gpu_utilization",
    kind: "gauge",
    labels: ["worker", "gpu"],
    help: "GPU utilisation as a ratio 0..1 (nvidia-smi percent / 100) by worker and GPU index, from its last heartbeat; OFFLINE workers omitted.",
  },
];

/** Process metrics (prom-client compatible names, so stock Node.js dashboards work). */
export const PROCESS_METRICS: readonly MetricDoc[] = [
  { name: "process_cpu_user_seconds_total", kind: "counter", labels: [], help: "User CPU time spent by the master process." },
  { name: "process_cpu_system_seconds_total", kind: "counter", labels: [], help: "System CPU time spent by the master process." },
  { name: "process_cpu_seconds_total", kind: "counter", labels: [], help: "User and system CPU time spent by the master process." },
  { name: "process_start_time_seconds", kind: "gauge", labels: [], help: "Start time of the process since the Unix epoch, in seconds." },
  { name: "process_resident_memory_bytes", kind: "gauge", labels: [], help: "Resident set size of the process." },
  { name: "nodejs_heap_size_total_bytes", kind: "gauge", labels: [], help: "V8 heap size." },
  { name: "nodejs_heap_size_used_bytes", kind: "gauge", labels: [], help: "V8 heap in use." },
  { name: "nodejs_external_memory_bytes", kind: "gauge", labels: [], help: "Memory of C++ objects bound to JavaScript objects (Buffers etc.)." },
  { name: "nodejs_eventloop_lag_seconds", kind: "gauge", labels: [], help: "Mean event-loop delay since the previous scrape." },
  { name: "nodejs_eventloop_lag_p99_seconds", kind: "gauge", labels: [], help: "99th percentile event-loop delay since the previous scrape." },
  { name: "nodejs_eventloop_lag_max_seconds", kind: "gauge", labels: [], help: "Largest event-loop delay since the previous scrape." },
];

/** Every metric the master exports. */
export const EXPORTED_METRICS: readonly MetricDoc[] = [...TASKGRID_METRICS, ...PROCESS_METRICS];

/** Label values known up front; their counter series are exported (as 0) from the start. */
export const KNOWN_LABEL_VALUES = {
  outcome: ["SUCCEEDED", "FAILED", "CANCELED"],
  strategy: ["rts", "round_robin"],
  reason: [FALLBACK_WEIGHTS_NOT_LOADED, FALLBACK_NO_FRESH_TELEMETRY, FALLBACK_RTS_ERROR],
  result: ["success", "failure"],
  authReason: ["missing", "malformed", "unknown", "bad_secret", "expired", "revoked", "rate_limited"],
  rejectReason: ["stale", "foreign"],
  preemptionReason: ["queue_class", "priority", "rate_limited"],
} as const;

/** Looks a name up as used in a PromQL query: a histogram's `_bucket`/`_sum`/`_count` series map to it. */
export function documentedMetric(seriesName: string): MetricDoc | undefined {
  const exact = EXPORTED_METRICS.find((m) => m.name === seriesName);
  if (exact) return exact;
  const base = seriesName.replace(/_(bucket|sum|count)$/, "");
  return EXPORTED_METRICS.find((m) => m.name === base && m.kind === "histogram");
}
