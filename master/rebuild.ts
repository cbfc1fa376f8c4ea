// On start the database is the source of truth: rebuild queues, worker slots and live attempts.
// Workers come back as SUSPECT with a fresh lastSeen, so agents get the full OFFLINE threshold to
// reconnect and re-adopt their running attempts before those are declared LOST.
import { allocate, newWorkerSlot } from "../src/core/worker-slot.js";
import type { ActiveState } from "../src/store/store-types.js";
import type { MasterState } from "./state.js";

export interface RebuildResult {
  queued: number;
  running: number;
  workers: number;
  /** Attempts whose worker or attempt row is missing: the caller ends them as LOST. */
  orphans: Array<{ taskId: string; attemptId: string | null }>;
}

export function rebuildState(state: MasterState, active: ActiveState, nowMs: number): RebuildResult {
  for (const worker of active.workers) {
    const status = worker.status === "OFFLINE" ? "OFFLINE" : "SUSPECT";
    state.slots.set(worker.id, newWorkerSlot({ ...worker, status, lastSeenAtMs: nowMs }));
  }
  const attempts = new Map(active.attempts.map((a) => [a.id, a]));
  const tasks = [...active.tasks].sort((a, b) => a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : 1));
  const result: RebuildResult = { queued: 0, running: 0, workers: active.workers.length, orphans: [] };
  for (const task of tasks) {
    state.activeTasks.set(task.id, task);
    if (task.state === "QUEUED") {
      state.queue.push(task);
      result.queued++;
      continue;
    }
    const attempt = task.currentAttemptId ? attempts.get(task.currentAttemptId) : undefined;
    const slot = attempt ? state.slots.get(attempt.workerId) : undefined;
    if (!attempt || !slot || slot.worker.status === "OFFLINE") {
      result.orphans.push({ taskId: task.id, attemptId: task.currentAttemptId });
      continue;
    }
    state.liveAttempts.set(attempt.id, { attempt, workerId: attempt.workerId });
    allocate(slot, attempt.id, task.spec.resources, attempt.gpuIndexes);
    result.running++;
  }
  return result;
}
