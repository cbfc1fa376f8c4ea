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
export const DEFAULT_MAX_CANDIDATES = 8;

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

/** Below this many open workers every task just scans them all (no per-tag rings). */
const RING_INDEX_MIN_WORKERS = 256;
/** Workers visited in a ring from a cursor that moves on past the last one visited. */
interface Ring {
  slots: WorkerSlot[];
  cursor: number;
}

/** The open workers of one pass, and (in a large cluster) the same split by tag and by GPU model. */
interface PassIndex {
  all: Ring;
  indexed: boolean;
  /** tag -> open workers that carry it. */
  byTag: Map<string, Ring>;
  /** lower-cased GPU model -> open workers with at least one GPU of exactly that model. */
  byGpuModel: Map<string, Ring>;
  /** Open workers with any GPU. */
  anyGpu: Ring;
  /** Requested model (substring) -> the ring to use, memoised. */
  forModel: Map<string, Ring>;
}

/** One loop over the workers at the start of a pass, so no single task pays for building an index. */
function buildRings(slots: readonly WorkerSlot[]): PassIndex {
  const open: WorkerSlot[] = [];
  for (const s of slots) if (hasFreeSlot(s)) open.push(s);
  const index: PassIndex = {
    all: { slots: open, cursor: 0 },
    indexed: open.length >= RING_INDEX_MIN_WORKERS,
    byTag: new Map(),
    byGpuModel: new Map(),
    anyGpu: { slots: [], cursor: 0 },
    forModel: new Map(),
  };
  if (!index.indexed) return index;
  for (const s of open) {
    for (const tag of s.tagSet) {
      const ring = index.byTag.get(tag);
      if (ring) ring.slots.push(s);
      else index.byTag.set(tag, { slots: [s], cursor: 0 });
    }
    const gpus = s.worker.capacity.gpus;
    if (gpus.length > 0) {
      index.anyGpu.slots.push(s);
      let previous = "";
      for (const g of gpus) {
        if (g.model === previous) continue;
        previous = g.model;
        const model = g.model.toLowerCase();
        const ring = index.byGpuModel.get(model);
        if (ring === undefined) index.byGpuModel.set(model, { slots: [s], cursor: 0 });
        else if (ring.slots[ring.slots.length - 1] !== s) ring.slots.push(s);
      }
    }
  }
  return index;
}

const EMPTY_RING: Ring = { slots: [], cursor: 0 };

/**
 * The smallest ring that holds every open worker the shape could fit: the ring of one of its
 * required tags, or of its GPU model (when exactly one model of the fleet matches the requested
 * substring; else every GPU worker), or all open workers.
 */
function narrowestRing(index: PassIndex, shape: Shape): Ring {
  let ring = index.all;
  for (const tag of shape.requiredTags) {
    const r = index.byTag.get(tag) ?? EMPTY_RING;
    if (r.slots.length < ring.slots.length) ring = r;
  }
  if (shape.gpuCount > 0) {
    let r = index.forModel.get(shape.gpuModel);
    if (r === undefined) {
      let only: Ring | null = null;
      let matches = 0;
      for (const [model, modelRing] of index.byGpuModel) {
        if (model.includes(shape.gpuModel)) {
          matches++;
          only = modelRing;
        }
      }
      r = matches === 0 ? EMPTY_RING : matches === 1 && only ? only : index.anyGpu;
      index.forModel.set(shape.gpuModel, r);
    }
    if (r.slots.length < ring.slots.length) ring = r;
  }
  return ring;
}

/**
 * One dispatch pass. Per task, in queue order:
 * - Feasibility is exact and cheap to bound. The task's workers are visited in a ring (all open
 *   workers, or, in a large cluster, the smaller ring of open workers that carry one of its
 *   required tags or have a GPU of its model: a superset of the workers it can fit), starting at
 *   the ring's cursor; the visit stops after `maxCandidates` feasible workers or once round. So a
 *   task gets candidates whenever any worker fits it, and costs at most a ring's length.
 * - Within a pass resources are only taken, never freed, so once a requirement shape found no
 *   worker, a later task whose requirements dominate it (as much or more of everything, a
 *   superset of its tags, same or narrower GPU model) cannot fit either and is not scanned; its
 *   pending reason is memoised by exact shape.
 * - Workers whose slots fill up stay in the rings and are skipped; the pass ends when none is open.
 * Deterministic: rings and cursors are rebuilt each pass from the inputs in their given order.
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
  const index = buildRings(slots);
  const allRing = index.all;
  let openCount = allRing.slots.length;
  const failed: Shape[] = [];
  const reasons = new Map<string, string>();
  let scanned = 0;
  const candidates: Candidate[] = [];
  for (const task of queue) {
    if (openCount === 0 || scanned >= options.maxScan) break;
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
    const ring = index.indexed ? narrowestRing(index, shape) : allRing;
    candidates.length = 0;
    const ringSlots = ring.slots;
    const n = ringSlots.length;
    let i = ring.cursor < n ? ring.cursor : 0;
    for (let visited = 0; visited < n && candidates.length < cap; visited++) {
      const slot = ringSlots[i];
      if (++i === n) i = 0;
      const gpuIndexes = feasibleGpus(task, slot);
      if (gpuIndexes) candidates.push({ slot, gpuIndexes });
    }
    ring.cursor = i;
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
    if (!hasFreeSlot(candidate.slot)) openCount--;
  }
  return { assignments, pendingReasons };
}

/** "unschedulable: ..." when no known live worker could ever run it, else why it waits. */
export function pendingReason(task: Task, slots: readonly WorkerSlot[]): string {
  let liveCount = 0;
  for (const slot of slots) {
    if (slot.worker.status === "OFFLINE") continue;
    if (couldEverFit(task, slot.worker, slot.tagSet)) return "waiting: no worker has free resources for it";
    liveCount++;
  }
  if (liveCount === 0) return "waiting: no workers connected";
  const live = slots.filter((s) => s.worker.status !== "OFFLINE");
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
