// One pass of the dispatch loop, as a pure function of (queue, workers, now): walk QUEUED tasks in
// policy order, filter feasible workers, let the placement strategy choose, and reserve the
// resources on the chosen worker's slot so later tasks in the same pass see them taken.
// A task that fits nowhere right now is skipped (it does not block the tasks behind it) and gets a
// pending reason; one that could never fit any known worker is marked "unschedulable".
import { couldEverFit, feasibleGpus, neverFitsReason } from "./feasibility.js";
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
  /**
   * At most this many feasible workers are handed to the placement strategy per task (default
   * DEFAULT_MAX_CANDIDATES; Infinity = every feasible worker). See planDispatch.
   */
  maxCandidates?: number;
}

/**
 * Default candidate cap. Scoring all of 10,000 workers for every task cannot meet the placement
 * latency targets (DESIGN §8); like Nomad's limit iterator, the strategy scores a bounded sample.
 */
export const DEFAULT_MAX_CANDIDATES = 32;

/** Requirement shape of a task: two tasks with the same shape fit exactly the same workers. */
interface Shape {
  key: string;
  cpuMillis: number;
  memoryMib: number;
  gpuCount: number;
  gpuModel: string;
  gpuMemoryMib: number;
  requiredTags: readonly string[];
}

const shapes = new WeakMap<object, Shape>();
function shapeOf(task: Task): Shape {
  const spec = task.spec;
  let shape = shapes.get(spec);
  if (shape === undefined) {
    const r = spec.resources;
    const gpuModel = r.gpuCount > 0 ? r.gpuModel.toLowerCase() : "";
    shape = {
      key: `${r.cpuMillis}|${r.memoryMib}|${r.gpuCount}|${gpuModel}|${r.gpuMemoryMib}|${spec.requiredTags.join("\u0000")}`,
      cpuMillis: r.cpuMillis,
      memoryMib: r.memoryMib,
      gpuCount: r.gpuCount,
      gpuModel,
      gpuMemoryMib: r.gpuMemoryMib,
      requiredTags: spec.requiredTags,
    };
    shapes.set(spec, shape);
  }
  return shape;
}

/**
 * Whether every worker that fits `t` also fits `f` (so if `f` fits nowhere, neither does `t`):
 * t asks at least as much of every resource, for a GPU model at least as narrow, and all of f's tags.
 */
function dominates(t: Shape, f: Shape): boolean {
  if (t.cpuMillis < f.cpuMillis || t.memoryMib < f.memoryMib || t.gpuCount < f.gpuCount) return false;
  if (f.gpuCount > 0) {
    if (t.gpuMemoryMib < f.gpuMemoryMib) return false;
    // t's matching GPUs are a subset of f's when f's model is a substring of t's.
    if (f.gpuModel !== "" && !t.gpuModel.includes(f.gpuModel)) return false;
  }
  for (const tag of f.requiredTags) if (!t.requiredTags.includes(tag)) return false;
  return true;
}

/** Failed shapes remembered per pass for the dominance check (bounds its cost per task). */
const MAX_FAILED_SHAPES = 32;

/**
 * One dispatch pass. Per task, in queue order:
 * - Feasibility is exact: open workers (ONLINE with a free slot) are visited in a ring starting at a
 *   cursor that moves on past the last worker visited, and the visit stops after `maxCandidates`
 *   feasible ones or after the whole ring. So a task gets candidates whenever any worker fits it,
 *   and the cost per task is bounded by the cap when feasible workers are plentiful.
 * - Within a pass resources are only taken, never freed, so once a requirement shape found no
 *   worker, a later task whose requirements dominate it (as much or more of everything, a
 *   superset of its tags, same or narrower GPU model) cannot fit either and is not scanned; its
 *   pending reason is memoised by exact shape.
 * - A worker whose slots fill up leaves the ring at once (O(1) swap-remove).
 * Deterministic: the cursor starts at 0 each pass and everything else follows from the inputs.
 */
export function planDispatch(
  queue: Iterable<Task>,
  slots: readonly WorkerSlot[],
  placement: PlacementStrategy,
  options: PlanOptions,
): DispatchPlan {
  const assignments: PlannedAssignment[] = [];
  const pendingReasons = new Map<string, string>();
  const cap = options.maxCandidates !== undefined && options.maxCandidates >= 1 ? options.maxCandidates : DEFAULT_MAX_CANDIDATES;
  const open = slots.filter(hasFreeSlot);
  const failed: Shape[] = [];
  const reasons = new Map<string, string>();
  let cursor = 0;
  let scanned = 0;
  const candidates: Candidate[] = [];
  const positions: number[] = [];
  for (const task of queue) {
    if (open.length === 0 || scanned >= options.maxScan) break;
    scanned++;
    const shape = shapeOf(task);
    let dominated = false;
    for (let f = 0; f < failed.length && !dominated; f++) dominated = dominates(shape, failed[f]);
    if (dominated) {
      let reason = reasons.get(shape.key);
      if (reason === undefined) reasons.set(shape.key, (reason = pendingReason(task, slots)));
      pendingReasons.set(task.id, reason);
      continue;
    }
    candidates.length = 0;
    positions.length = 0;
    const n = open.length;
    let i = cursor < n ? cursor : 0;
    for (let visited = 0; visited < n && candidates.length < cap; visited++) {
      const gpuIndexes = feasibleGpus(task, open[i]);
      if (gpuIndexes) {
        candidates.push({ slot: open[i], gpuIndexes });
        positions.push(i);
      }
      if (++i === n) i = 0;
    }
    cursor = i;
    if (candidates.length === 0) {
      let reason = reasons.get(shape.key);
      if (reason === undefined) reasons.set(shape.key, (reason = pendingReason(task, slots)));
      pendingReasons.set(task.id, reason);
      if (failed.length < MAX_FAILED_SHAPES) failed.push(shape);
      continue;
    }
    // The strategy may keep the array it is given (e.g. in a decision log): hand it a copy.
    const { candidate, decision } = placement.choose(task, candidates.slice(), options.nowMs);
    const attemptId = options.newAttemptId();
    allocate(candidate.slot, attemptId, task.spec.resources, candidate.gpuIndexes);
    assignments.push({ task, attemptId, slot: candidate.slot, gpuIndexes: candidate.gpuIndexes, decision });
    if (!hasFreeSlot(candidate.slot)) {
      let at = -1;
      for (let j = 0; j < candidates.length; j++) if (candidates[j].slot === candidate.slot) at = positions[j];
      if (at < 0) at = open.indexOf(candidate.slot);
      if (at >= 0) {
        const last = open.pop()!;
        if (at < open.length) open[at] = last;
      }
    }
  }
  return { assignments, pendingReasons };
}

/** "unschedulable: ..." when no known live worker could ever run it, else why it waits. */
export function pendingReason(task: Task, slots: readonly WorkerSlot[]): string {
  const live = slots.filter((s) => s.worker.status !== "OFFLINE");
  if (live.length === 0) return "waiting: no workers connected";
  for (const slot of live) if (couldEverFit(task, slot.worker, slot.tagSet)) return "waiting: no worker has free resources for it";
  // Explain with the closest miss: a worker that has the tags but lacks capacity says more than
  // one that lacks the tags.
  let tagReason = "";
  let capacityReason = "";
  for (const slot of live) {
    const reason = neverFitsReason(task, slot.worker);
    if (reason === null) return "waiting: no worker has free resources for it";
    if (reason.startsWith("lacks tags")) tagReason ||= `${slot.worker.id} ${reason}`;
    else {
      capacityReason = `${slot.worker.id} ${reason}`;
      break; // the preferred kind of example; nothing later can replace it
    }
  }
  const example = capacityReason || tagReason;
  return `unschedulable: no worker can ever run it (${live.length === 1 ? example : `e.g. ${example}`})`;
}
