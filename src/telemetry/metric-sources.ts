// What /metrics reads at scrape time (MetricSources), plus the number check that metrics.ts (the
// SDK recorder) and source-gauges.ts (the source-backed gauges) share. Kept apart from both so
// source-gauges.ts never imports metrics.ts: metrics.ts -> source-gauges.ts is the only edge.
import type { TaskState, WorkerStatus } from "../core/types.js";

/**
 * What the scrape reads, implemented by the master from memory (masterMetricSources in
 * master-metrics.ts). Each callback is called exactly once per scrape, synchronously, and must not
 * do I/O.
 */
export interface MetricSources {
  /**
   * Task counts by state. Give the active states (QUEUED, ASSIGNED, RUNNING, PAUSED) from memory;
   * terminal states left out are filled in from the recorder's `taskFinished` counts since start.
   * States missing altogether are exported as 0.
   */
  tasksByState(): Partial<Record<TaskState, number>>;
  /** QUEUED tasks per (queue class, priority); give every combination (0 included) for stable series. */
  queueLengths(): Array<{ queue: string; priority: string; length: number }>;
  /** Workers by status; missing statuses are exported as 0. */
  workersByStatus(): Partial<Record<WorkerStatus, number>>;
  /** Last reported CPU load per worker (load average / CPUs). */
  workerCpuLoad(): Array<{ worker: string; load: number }>;
  /** Last reported GPU utilisation per worker and GPU index, as a ratio 0..1. */
  workerGpuUtilization(): Array<{ worker: string; gpu: number | string; utilization: number }>;
  /** Version of the RTS weights in use ("" = none; then taskgrid_weights_info is not exported). */
  weightsVersion(): string;
  /**
   * Leadership of this master (taskgrid_leader{epoch}: 1 while it leads, 0 as a standby, labelled
   * with the epoch it last saw; taskgrid_failovers_total: terms it won after another master led).
   * Absent: neither is exported.
   */
  leadership?(): { leader: boolean; epoch: number; failovers: number };
  /**
   * Projects (issue 15): what each runs now per resource (taskgrid_project_usage), each quota limit
   * (taskgrid_project_quota{kind=nominal|borrowing_limit|lending_limit}) and each fair-share factor
   * (taskgrid_fairshare_factor). Absent: none is exported.
   */
  projects?(): ProjectMetrics;
}

export interface ProjectMetrics {
  usage: Array<{ project: string; resource: string; value: number }>;
  quota: Array<{ project: string; resource: string; kind: "nominal" | "borrowing_limit" | "lending_limit"; value: number }>;
  fairShare: Array<{ project: string; value: number }>;
}

/** A finite number (not NaN, not ±Infinity, not a non-number). */
export function finite(n: unknown): n is number {
  return typeof n === "number" && Number.isFinite(n);
}
