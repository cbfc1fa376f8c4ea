// One pass of the dispatch loop, as a pure function of (queue, workers, now): walk QUEUED tasks in
// policy order, filter feasible workers, let the placement strategy choose, and reserve the
// resources on the chosen worker's slot so later tasks in the same pass see them taken.
// A task that fits nowhere right now is skipped (it does not block the tasks behind it) and gets a
// pending reason; one that could never fit any known worker is marked "unschedulable".
// With backfill (PlanOptions.backfill) the first K blocked tasks get reservations that later tasks
// must not delay (backfill/reservations.ts).
import { type BackfillOptions, BackfillPass, delayReason, type Reservation, reservedReason } from "./backfill/reservations.js";
import { couldEverFit, feasibleGpus, neverFitsReason } from "./feasibility.js";
import type { Candidate, PlacementStrategy } from "./placement.js";
import type { PlacementDecision, Task } from "./types.js";
import { allocate, hasFreeSlot, type WorkerSlot } from "./worker-slot.js";
import { buildRings, narrowestRing } from "./worker-rings.js";

export interface PlannedAssignment {
  task: Task;
  attemptId: string;
  slot: WorkerSlot;
  gpuIndexes: number[];
  decision: PlacementDecision;
  /** Runs on quota borrowed from other projects (see QuotaGate). */
  borrowed: boolean;
}

/**
 * Per-project quotas in a pass (src/core/fairshare/quota-gate.ts): whether a task's project may
 * start it, before and at placement, and what a placement uses up for the rest of the pass. A
 * refusal is a pending reason; the task is skipped and does not block other projects' tasks.
 */
export interface QuotaGate {
  /** Before looking for workers: null, or why the project may not start the task now. */
  refuse(task: Task): string | null;
  /** For one candidate (the GPUs' models are known here): null, or why not there. */
  refuseOn(task: Task, slot: WorkerSlot, gpuIndexes: readonly number[]): string | null;
  /** The task was placed there: it counts from now on. Returns whether it runs on borrowed quota. */
  placed(task: Task, slot: WorkerSlot, gpuIndexes: readonly number[]): boolean;
}

export interface DispatchPlan {
  assignments: PlannedAssignment[];
  /** Reason per task that was looked at and not placed. */
  pendingReasons: Map<string, string>;
  /** Backfill: the reservation of each blocked task that got one (its pending reason says it too); empty without backfill. */
  reservations: Map<string, Reservation>;
  /** Backfill: task id -> the reserved task it would have delayed, for tasks kept waiting only by reservations. */
  delayed: Map<string, string>;
  /** With PlanOptions.preemptors: tasks it accepted that found no room anywhere, in queue order (preemption's candidates). */
  blocked: Task[];
}

/**
 * Which blocked tasks to collect for preemption (PlanOptions.preemptors). Once every worker is full
 * the pass goes on only to collect them, and for at most `scanAfterFull` more tasks: a long queue of
 * work that can preempt nothing must not make every pass of a full cluster walk it.
 */
export interface BlockedCollector {
  accept(task: Task): boolean;
  /** Blocked tasks collected at most. */
  max: number;
  /** Tasks looked at once no worker is open (default 256). */
  scanAfterFull?: number;
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
  /**
   * The cap for a task with a deadline (explicit or derived), when larger than maxCandidates
   * (default DEFAULT_DEADLINE_CANDIDATES). See DEFAULT_DEADLINE_CANDIDATES.
   */
  deadlineCandidates?: number;
  /** Per-project quotas; absent: none (every project unlimited). */
  quota?: QuotaGate;
  /**
   * Reservations and backfill: `reservations` = K blocked tasks that get one (0 none, 1 EASY,
   * Infinity conservative), plus the availability profile's inputs. Absent or K = 0: no backfill.
   */
  backfill?: BackfillOptions;
  /** Collect blocked tasks for preemption; absent: none collected (DispatchPlan.blocked stays empty). */
  preemptors?: BlockedCollector;
  /** Backfill: reservations tried at most per pass (default DEFAULT_RESERVATION_TRIES). */
  reservationTries?: number;
}

/**
 * Default bound on the reservations a pass tries (Slurm's bf_max_job_test, whose default is also
 * 500). A task that no worker can ever hold gets no reservation, so without a bound a deep queue of
 * such tasks (or any queue while no agent is connected) was walked to maxScan on every pass, each
 * task paying for an availability search: 32% of the master's CPU in the unary submit bench, whose
 * tasks stay queued with no agent.
 */
export const DEFAULT_RESERVATION_TRIES = 500;

/**
 * Default candidate cap. Scoring all of 10,000 workers for every task cannot meet the placement
 * latency targets (DESIGN §8); like Nomad's limit iterator, the strategy scores a bounded sample.
 */
export const DEFAULT_MAX_CANDIDATES = 8;

/**
 * Default candidate cap for a task with a deadline. Whether such a task makes its deadline depends
 * on how fast the chosen worker is, and the best of 8 workers sampled by cursor is often not fast
 * enough (in the hetero simulation the cap of 8 was the largest single cause of RTS's misses), so
 * these tasks get a wider sample: still bounded work per task, as Nomad's limit iterator, and
 * within the placement latency targets (docs/benchmarks.md). Tasks without a deadline keep 8:
 * for them the sample only balances load.
 */
export const DEFAULT_DEADLINE_CANDIDATES = 32;
/**
 * A task with a deadline gets candidates beyond `maxCandidates` only from the first
 * DEADLINE_SCAN_FACTOR x deadlineCandidates workers of its ring scan (with about half the fleet
 * feasible that is the whole wider sample); the first `maxCandidates` are still sought round the
 * whole ring, as for any task.
 */
export const DEADLINE_SCAN_FACTOR = 2;

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
 * - Feasibility is exact and cheap to bound. The task's workers are visited in a ring (all open
 *   workers, or, in a large cluster, the smaller ring of open workers that carry one of its
 *   required tags or have a GPU of its model: a superset of the workers it can fit), starting at
 *   the ring's cursor; the visit stops after `maxCandidates` feasible workers (`deadlineCandidates`
 *   for a task with a deadline) or once round. So a task gets candidates whenever any worker fits
 *   it, and costs at most a ring's length.
 * - Within a pass resources are only taken, never freed, so once a requirement shape found no
 *   worker, a later task whose requirements dominate it (as much or more of everything, a
 *   superset of its tags, same or narrower GPU model) cannot fit either and is not scanned; its
 *   pending reason is memoised by exact shape.
 * - Workers whose slots fill up stay in the rings and are skipped; the pass ends when none is open
 *   (with backfill, once no more reservations can be made either, or `reservationTries` were tried).
 * - Backfill (options.backfill, K > 0): a worker holding a reservation is a candidate only if the
 *   task would not delay it (BackfillPass.admit); a task with no candidate gets a reservation while
 *   fewer than K exist ("reserved: starts ~<time> on <worker>"), else it waits ("would delay the
 *   reservation of task <id>" when only reservations kept it out).
 * Deterministic: rings and cursors are rebuilt each pass from the inputs in their given order.
 */
export function planDispatch(queue: Iterable<Task>, slots: readonly WorkerSlot[], placement: PlacementStrategy, options: PlanOptions): DispatchPlan {
  const assignments: PlannedAssignment[] = [];
  const pendingReasons = new Map<string, string>();
  const delayed = new Map<string, string>();
  const cap = options.maxCandidates !== undefined && options.maxCandidates >= 1 ? options.maxCandidates : DEFAULT_MAX_CANDIDATES;
  const deadlineCap = Math.max(
    cap,
    options.deadlineCandidates !== undefined && options.deadlineCandidates >= 1 ? options.deadlineCandidates : DEFAULT_DEADLINE_CANDIDATES,
  );
  const deadlineScan = DEADLINE_SCAN_FACTOR * deadlineCap;
  const index = buildRings(slots);
  const allRing = index.all;
  let openCount = allRing.slots.length;
  const failed: Shape[] = [];
  const reasons = new Map<string, string>();
  let scanned = 0;
  const candidates: Candidate[] = [];
  // With no worker online nothing can be reserved (a fleet starting, every agent gone).
  const backfillOptions = options.backfill;
  const reservable = backfillOptions !== undefined && backfillOptions.reservations > 0 && slots.some((s) => s.worker.status === "ONLINE");
  const backfill = reservable ? new BackfillPass(slots, options.nowMs, backfillOptions) : null;
  let reservationTries = options.reservationTries ?? DEFAULT_RESERVATION_TRIES;
  const canReserve = (): boolean => (backfill?.canReserve ?? false) && reservationTries > 0;
  /** Backfill: gives a blocked task a reservation while fewer than K exist (and tries are left); whether it got one. */
  const reserve = (task: Task): boolean => {
    if (!canReserve()) return false;
    reservationTries--;
    const reservation = backfill?.reserve(task) ?? null;
    if (reservation !== null) pendingReasons.set(task.id, reservedReason(reservation));
    return reservation !== null;
  };
  const blocked: Task[] = [];
  const collector = options.preemptors;
  let scanAfterFull = collector?.scanAfterFull ?? 256;
  const block = (task: Task): void => {
    if (collector !== undefined && blocked.length < collector.max && collector.accept(task)) blocked.push(task);
  };
  for (const task of queue) {
    // With no worker open nothing more starts this pass, but blocked tasks may still be reserved or
    // collected for preemption.
    if (scanned >= options.maxScan) break;
    if (openCount === 0) {
      const collecting = collector !== undefined && blocked.length < collector.max && scanAfterFull-- > 0;
      if (!collecting && !canReserve()) break;
    }
    if (task.notBeforeMs !== null && task.notBeforeMs > options.nowMs) {
      pendingReasons.set(task.id, backoffReason(task.notBeforeMs, options.nowMs));
      continue; // waiting out a retry backoff; does not count against the scan bound
    }
    scanned++;
    const quota = options.quota;
    const refused = quota?.refuse(task) ?? null;
    if (refused !== null) {
      pendingReasons.set(task.id, refused);
      continue; // its project's limit, not the cluster's: says nothing about other tasks' shapes
    }
    if (openCount === 0) {
      reserve(task);
      block(task);
      continue;
    }
    const shape = shapeOf(task);
    let dominated = false;
    for (let f = 0; f < failed.length && !dominated; f++) dominated = dominates(shape, failed[f]);
    if (dominated) {
      block(task);
      if (reserve(task)) continue;
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
    const taskCap = (task.deadlineMs ?? task.spec.deadlineMs) !== null ? deadlineCap : cap;
    let quotaRefusal: string | null = null;
    let delayedBy: Reservation | null = null;
    for (let visited = 0; visited < n && candidates.length < taskCap; visited++) {
      // Widening past `cap` stops after DEADLINE_SCAN_FACTOR x deadlineCap visits: a task that fits
      // few workers costs no more than before plus that bounded extra scan.
      if (candidates.length >= cap && visited >= deadlineScan) break;
      const slot = ringSlots[i];
      if (++i === n) i = 0;
      let gpuIndexes = feasibleGpus(task, slot);
      if (!gpuIndexes) continue;
      if (backfill !== null) {
        const admitted = backfill.admit(task, slot, gpuIndexes);
        if (!Array.isArray(admitted)) {
          delayedBy ??= admitted;
          continue;
        }
        gpuIndexes = admitted;
      }
      const refusedHere = quota && gpuIndexes.length > 0 ? quota.refuseOn(task, slot, gpuIndexes) : null;
      if (refusedHere === null) candidates.push({ slot, gpuIndexes });
      else quotaRefusal = refusedHere;
    }
    ring.cursor = i;
    if (candidates.length === 0 && quotaRefusal !== null) {
      // Workers fit but their GPU models are over the project's quota: not a shape that fits nowhere.
      pendingReasons.set(task.id, quotaRefusal);
      continue;
    }
    if (candidates.length === 0) {
      // A worker passed over only for a reservation's sake may take a shorter task of the same
      // shape: the shape failed only when nothing fitted at all.
      if (delayedBy === null) {
        if (failed.length < MAX_FAILED_SHAPES) failed.push(shape);
        block(task);
      }
      if (reserve(task)) continue;
      if (delayedBy !== null) {
        pendingReasons.set(task.id, delayReason(delayedBy.taskId));
        delayed.set(task.id, delayedBy.taskId);
        continue;
      }
      let reason = reasons.get(shape.key);
      if (reason === undefined) reasons.set(shape.key, (reason = pendingReason(task, slots)));
      pendingReasons.set(task.id, reason);
      continue;
    }
    // The strategy may keep the array it is given (e.g. in a decision log): hand it a copy.
    const { candidate, decision } = placement.choose(task, candidates.slice(), options.nowMs);
    const attemptId = options.newAttemptId();
    allocate(candidate.slot, attemptId, task.spec.resources, candidate.gpuIndexes, task.spec.project);
    backfill?.started(task, candidate.slot, attemptId);
    const borrowed = quota?.placed(task, candidate.slot, candidate.gpuIndexes) ?? false;
    assignments.push({ task, attemptId, slot: candidate.slot, gpuIndexes: candidate.gpuIndexes, decision, borrowed });
    if (!hasFreeSlot(candidate.slot)) openCount--;
  }
  return { assignments, pendingReasons, reservations: backfill?.reservations ?? new Map(), delayed, blocked };
}

/** "unschedulable: ..." when no known live worker could ever run it, else why it waits. */
export function pendingReason(task: Task, slots: readonly WorkerSlot[], nowMs?: number): string {
  if (nowMs !== undefined && task.notBeforeMs !== null && task.notBeforeMs > nowMs) return backoffReason(task.notBeforeMs, nowMs);
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

function backoffReason(notBeforeMs: number, nowMs: number): string {
  return `waiting: retry backoff, eligible in ${Math.ceil((notBeforeMs - nowMs) / 1000)} s`;
}
