// On start the database is the source of truth: rebuild queues, workers and live attempts.
// Workers come back as SUSPECT with a fresh lastSeen, so agents get the full OFFLINE threshold to
// reconnect and re-adopt their running attempts before those are declared LOST; a worker an
// operator drained comes back drained (WorkerRegistry.restore).
import { allocate } from "../src/core/worker-slot.js";
import type { ActiveState } from "../src/store/store-types.js";
import type { MasterState } from "./state.js";
import type { WorkerRegistry } from "./worker-registry.js";

export interface RebuildResult {
  queued: number;
  running: number;
  workers: number;
  /** Attempts whose worker or attempt row is missing: the caller ends them as LOST. */
  orphans: Array<{ taskId: string; attemptId: string | null }>;
}

export function rebuildState(
  state: MasterState,
  workers: Pick<WorkerRegistry, "restore" | "get">,
  active: ActiveState,
  nowMs: number,
  /** Extra time before liveness verdicts (a new leader's wait for agents a deposed one may hold). */
  livenessGraceMs = 0,
): RebuildResult {
  for (const worker of active.workers) workers.restore(worker, nowMs, livenessGraceMs);
  const attempts = new Map(active.attempts.map((a) => [a.id, a]));
  // An array's elements share their creation time: index order among them (ids are random within a millisecond).
  const tasks = [...active.tasks].sort((a, b) => a.createdAtMs - b.createdAtMs || (a.arrayIndex ?? 0) - (b.arrayIndex ?? 0) || (a.id < b.id ? -1 : 1));
  const result: RebuildResult = { queued: 0, running: 0, workers: active.workers.length, orphans: [] };
  for (const task of tasks) {
    state.activeTasks.set(task.id, task);
    if (task.state === "QUEUED") {
      state.queue.push(task);
      result.queued++;
      continue;
    }
    const attempt = task.currentAttemptId ? attempts.get(task.currentAttemptId) : undefined;
    const slot = attempt ? workers.get(attempt.workerId)?.slot : undefined;
    if (!attempt || !slot || slot.worker.status === "OFFLINE") {
      result.orphans.push({ taskId: task.id, attemptId: task.currentAttemptId });
      continue;
    }
    state.liveAttempts.set(attempt.id, { attempt, workerId: attempt.workerId });
    allocate(slot, attempt.id, task.spec.resources, attempt.gpuIndexes, task.spec.project);
    result.running++;
  }
  return result;
}
