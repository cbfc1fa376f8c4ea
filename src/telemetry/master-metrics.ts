// Glue between the master and the metrics module, so that wiring metrics in is a few lines in
// master/master.ts and nothing else in master/ has to change:
// - masterMetricSources: MetricSources over MasterState (memory only; O(active tasks + workers)).
// - instrumentPlacement: wraps the placement strategy; records decisions, fallbacks, decision time
//   and queue wait (now - task.updatedAtMs, which is when the task last became QUEUED).
// - taskEventMetrics: an EventHub watcher (all projects) counting submissions and finished tasks.
// - recordAttemptEnd: run time and deadline misses from the lifecycle's observeAttemptEnd hook.
// Types are structural (core types only) so src/ does not import from master/.
import { performance } from "node:perf_hooks";
import type { Candidate, PlacementChoice, PlacementStrategy } from "../core/placement.js";
import {
  PRIORITIES,
  QUEUE_CLASSES,
  TASK_STATES,
  TERMINAL_STATES,
  WORKER_STATUSES,
  type Task,
  type TaskEvent,
  type TaskResult,
  type TaskState,
  type WorkerStatus,
} from "../core/types.js";
import type { WorkerSlot } from "../core/worker-slot.js";
import type { MetricSources, MetricsRecorder } from "./metrics.js";

/** The parts of MasterState the sources read. */
export interface MasterStateView {
  readonly activeTasks: ReadonlyMap<string, Task>;
  readonly slots: ReadonlyMap<string, WorkerSlot>;
}

export interface MasterSourcesOptions {
  state: MasterStateView;
  /** Current RTS weights version, e.g. `() => weights.current().version`. */
  weightsVersion: () => string;
}

// Plain-object lookups: at 100,000 tasks per scrape they are several times faster than Map.get.
const indexOf = (values: readonly string[]): Record<string, number> =>
  Object.assign(Object.create(null) as Record<string, number>, Object.fromEntries(values.map((v, i) => [v, i])));
const STATE_INDEX = indexOf(TASK_STATES);
const QUEUE_INDEX = indexOf(QUEUE_CLASSES);
const PRIORITY_INDEX = indexOf(PRIORITIES);

type QueueLength = { queue: string; priority: string; length: number };

/**
 * One pass over the active tasks counting both states and queued tasks per (class, priority).
 * O(active tasks); reading each queued task's spec dominates (cost: see the scrape-cost test).
 */
function countTasks(activeTasks: ReadonlyMap<string, Task>): { byState: Partial<Record<TaskState, number>>; queues: QueueLength[] } {
  const states = new Array<number>(TASK_STATES.length).fill(0);
  const np = PRIORITIES.length;
  const grid = new Array<number>(QUEUE_CLASSES.length * np).fill(0);
  let other: Map<string, QueueLength> | null = null;
  for (const task of activeTasks.values()) {
    const i = STATE_INDEX[task.state];
    if (i !== undefined) states[i]++;
    if (task.state !== "QUEUED") continue;
    const spec = task.spec;
    const q = QUEUE_INDEX[spec.queueClass];
    const p = PRIORITY_INDEX[spec.priority];
    if (q !== undefined && p !== undefined) grid[q * np + p]++;
    else {
      other ??= new Map();
      const key = `${spec.queueClass}\u0000${spec.priority}`;
      const e = other.get(key) ?? { queue: String(spec.queueClass), priority: String(spec.priority), length: 0 };
      e.length++;
      other.set(key, e);
    }
  }
  // Active states only: terminal counts come from the recorder (tasks finished since start).
  const byState: Partial<Record<TaskState, number>> = {};
  TASK_STATES.forEach((s, i) => {
    if (!TERMINAL_STATES.has(s)) byState[s] = states[i];
  });
  const queues: QueueLength[] = [];
  QUEUE_CLASSES.forEach((queue, q) => PRIORITIES.forEach((priority, p) => queues.push({ queue, priority, length: grid[q * np + p] })));
  if (other) queues.push(...other.values());
  return { byState, queues };
}

export function masterMetricSources({ state, weightsVersion }: MasterSourcesOptions): MetricSources {
  // A scrape calls tasksByState then queueLengths synchronously; the queue counts of that one pass
  // are kept until the end of the current tick, so a scrape walks the tasks once. Any later call
  // counts afresh.
  let queuesThisTick: QueueLength[] | null = null;
  return {
    tasksByState() {
      const { byState, queues } = countTasks(state.activeTasks);
      if (queuesThisTick === null) queueMicrotask(() => (queuesThisTick = null));
      queuesThisTick = queues;
      return byState;
    },

    queueLengths() {
      const queues = queuesThisTick ?? countTasks(state.activeTasks).queues;
      queuesThisTick = null;
      return queues;
    },

    workersByStatus() {
      const out: Partial<Record<WorkerStatus, number>> = {};
      for (const s of WORKER_STATUSES) out[s] = 0;
      for (const slot of state.slots.values()) {
        const s = slot.worker.status;
        out[s] = (out[s] ?? 0) + 1;
      }
      return out;
    },

    workerCpuLoad() {
      const out: Array<{ worker: string; load: number }> = [];
      for (const slot of state.slots.values()) {
        const w = slot.worker;
        if (w.status === "OFFLINE" || w.telemetry === null) continue;
        out.push({ worker: w.id, load: w.telemetry.cpuLoad });
      }
      return out;
    },

    workerGpuUtilization() {
      const out: Array<{ worker: string; gpu: number; utilization: number }> = [];
      for (const slot of state.slots.values()) {
        const w = slot.worker;
        if (w.status === "OFFLINE" || w.telemetry === null) continue;
        for (const g of w.telemetry.gpus) out.push({ worker: w.id, gpu: g.index, utilization: g.utilizationPercent / 100 });
      }
      return out;
    },

    weightsVersion,
  };
}

/**
 * The placement strategy, measured: each choose() records one decision (strategy of the decision,
 * time taken), a fallback when RTS fell back, and the task's queue wait. Same name and choices.
 */
export function instrumentPlacement(inner: PlacementStrategy, recorder: MetricsRecorder): PlacementStrategy {
  return {
    name: inner.name,
    choose(task: Task, candidates: Candidate[], nowMs: number): PlacementChoice {
      const t0 = performance.now();
      const choice = inner.choose(task, candidates, nowMs);
      const seconds = (performance.now() - t0) / 1000;
      const { strategy, fallbackReason } = choice.decision;
      recorder.decision(strategy, seconds);
      if (fallbackReason) recorder.fallback(fallbackReason);
      // A QUEUED task's updatedAtMs is when it (last) became QUEUED: submit, requeue or restart.
      recorder.taskWaitSeconds((nowMs - task.updatedAtMs) / 1000);
      return choice;
    },
  };
}

/** An EventHub watcher (shape of master/event-hub.ts TaskWatcher) that counts submissions and finished tasks. */
export function taskEventMetrics(recorder: MetricsRecorder): { taskIds: null; project: string; push(event: TaskEvent, project: string): void } {
  return {
    taskIds: null,
    project: "",
    push(event: TaskEvent) {
      // Submission events are the only QUEUED events without an attempt (a requeue names the attempt).
      if (event.state === "QUEUED") {
        if (event.attemptId === "") recorder.taskSubmitted(1);
      } else if (TERMINAL_STATES.has(event.state)) recorder.taskFinished(event.state);
    },
  };
}

/** Outcomes whose durationMs is a real run time. */
const RAN = new Set(["SUCCEEDED", "FAILED", "CANCELED", "TIMEOUT"]);

/** Call from the lifecycle's observeAttemptEnd hook (after the LearningObserver). */
export function recordAttemptEnd(recorder: MetricsRecorder, result: TaskResult, missedDeadline: boolean): void {
  if (RAN.has(result.outcome)) recorder.taskRunSeconds(result.durationMs / 1000);
  if (missedDeadline) recorder.deadlineMiss();
}
