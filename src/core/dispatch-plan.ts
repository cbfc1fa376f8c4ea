// One pass of the dispatch loop, as a pure function of (queue, workers, now): walk QUEUED tasks in
// policy order, filter feasible workers, let the placement strategy choose, and reserve the
// resources on the chosen worker's slot so later tasks in the same pass see them taken.
// A task that fits nowhere right now is skipped (it does not block the tasks behind it) and gets a
// pending reason; one that could never fit any known worker is marked "unschedulable".
import { feasibleGpus, neverFitsReason } from "./feasibility.js";
import type { Candidate, PlacementStrategy } from "./placement.js";
import type { PlacementDecision, Task } from "./types.js";
import { allocate, hasFreeSlot, type WorkerSlot } from "./worker-slot.js";

export interface PlannedAssignment {
  task: Task;
  attemptId: string;
  slot: WorkerSlot;
  gpuIndexes: number[];
  decision: PlacementDecision;
}

export interface DispatchPlan {
  assignments: PlannedAssignment[];
  /** Reason per task that was looked at and not placed. */
  pendingReasons: Map<string, string>;
}

export interface PlanOptions {
  nowMs: number;
  /** Stop after looking at this many tasks (bounds the cost of a tick with a long blocked queue). */
  maxScan: number;
  /** Attempt id factory (injected: ids need time and randomness). */
  newAttemptId: () => string;
}

export function planDispatch(
  queue: Iterable<Task>,
  slots: readonly WorkerSlot[],
  placement: PlacementStrategy,
  options: PlanOptions,
): DispatchPlan {
  const assignments: PlannedAssignment[] = [];
  const pendingReasons = new Map<string, string>();
  let open = slots.filter(hasFreeSlot);
  let scanned = 0;
  for (const task of queue) {
    if (open.length === 0 || scanned >= options.maxScan) break;
    scanned++;
    const candidates: Candidate[] = [];
    for (const slot of open) {
      const gpuIndexes = feasibleGpus(task, slot);
      if (gpuIndexes) candidates.push({ slot, gpuIndexes });
    }
    if (candidates.length === 0) {
      pendingReasons.set(task.id, pendingReason(task, slots));
      continue;
    }
    const { candidate, decision } = placement.choose(task, candidates, options.nowMs);
    const attemptId = options.newAttemptId();
    allocate(candidate.slot, attemptId, task.spec.resources, candidate.gpuIndexes);
    assignments.push({ task, attemptId, slot: candidate.slot, gpuIndexes: candidate.gpuIndexes, decision });
    if (!hasFreeSlot(candidate.slot)) open = open.filter((s) => s !== candidate.slot);
  }
  return { assignments, pendingReasons };
}

/** "unschedulable: ..." when no known live worker could ever run it, else why it waits. */
export function pendingReason(task: Task, slots: readonly WorkerSlot[]): string {
  const live = slots.filter((s) => s.worker.status !== "OFFLINE");
  if (live.length === 0) return "waiting: no workers connected";
  // Explain with the closest miss: a worker that has the tags but lacks capacity says more than
  // one that lacks the tags.
  let tagReason = "";
  let capacityReason = "";
  for (const slot of live) {
    const reason = neverFitsReason(task, slot.worker);
    if (reason === null) return "waiting: no worker has free resources for it";
    const line = `${slot.worker.id} ${reason}`;
    if (reason.startsWith("lacks tags")) tagReason ||= line;
    else capacityReason ||= line;
  }
  const example = capacityReason || tagReason;
  return `unschedulable: no worker can ever run it (${live.length === 1 ? example : `e.g. ${example}`})`;
}
