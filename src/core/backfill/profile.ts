// Availability profile (DESIGN §3, backfill): per worker, what is free (cpu, memory, task slots,
// GPUs by index) from now on, as a step function of time. Running allocations come back at their
// predicted ends (prediction.ts); reservations ("claims") take resources over [start, end). Built
// for one dispatch pass from the slots as they are, lazily per worker (a pass that never asks
// about a worker pays nothing for it), and told about each attempt the pass starts.
import { couldEverFit } from "../feasibility.js";
import type { Gpu, Task } from "../types.js";
import type { WorkerSlot } from "../worker-slot.js";
import { type AttemptLookup, type PredictionInputs, predictedEndMs, predictedRuntimeMs, type RunningAttempt } from "./prediction.js";

/**
 * earliestFit looks at most this many start times per worker: now and the next 63 change points
 * (predicted ends and reservation ends). A worker whose first 63 changes never make room for the
 * task is not a candidate for its reservation (it may get one elsewhere, or none, this pass): the
 * bound keeps a reservation's cost at O(workers x MAX_CHANGE_POINTS) however busy a worker is.
 */
export const MAX_CHANGE_POINTS = 64;

export interface ProfileInputs extends PredictionInputs {
  /** Task and start of each attempt holding resources on a slot. */
  lookup: AttemptLookup;
}

/** What a running allocation gives back, and when. */
interface Release {
  endMs: number;
  cpuMillis: number;
  memoryMib: number;
}

/** Resources a reservation takes on a worker over [startMs, endMs). */
export interface Claim {
  taskId: string;
  startMs: number;
  endMs: number;
  cpuMillis: number;
  memoryMib: number;
  gpuIndexes: readonly number[];
}

interface WorkerProfile {
  slot: WorkerSlot;
  /** Predicted ends of the allocations on the slot, ascending. */
  releases: Release[];
  /** GPU index -> predicted end of the allocation holding it (absent: free now). */
  gpuBusyUntil: Map<number, number>;
  claims: Claim[];
}

/** Where and when a task fits for its whole predicted runtime. */
export interface Fit {
  slot: WorkerSlot;
  startMs: number;
  endMs: number;
  gpuIndexes: number[];
}

// GPUs by ascending index with lower-cased models, memoised per capacity.gpus array.
const gpuOrder = new WeakMap<readonly Gpu[], { gpus: readonly Gpu[]; models: string[] }>();
function sortedGpus(all: readonly Gpu[]): { gpus: readonly Gpu[]; models: string[] } {
  let view = gpuOrder.get(all);
  if (view === undefined) {
    const gpus = [...all].sort((a, b) => a.index - b.index);
    view = { gpus, models: gpus.map((g) => g.model.toLowerCase()) };
    gpuOrder.set(all, view);
  }
  return view;
}

export class AvailabilityProfile {
  private readonly workers = new Map<WorkerSlot, WorkerProfile>();
  /** Attempts started by this pass (not yet known to the lookup). */
  private readonly startedHere = new Map<string, RunningAttempt>();
  /** Slots holding at least one claim (the only ones where starting a task needs a check). */
  private readonly claimed = new Set<WorkerSlot>();

  constructor(
    private readonly slots: readonly WorkerSlot[],
    readonly nowMs: number,
    private readonly inputs: ProfileInputs,
  ) {}

  /** Predicted runtime of `task` on the slot's worker. */
  runtimeMs(task: Task, slot: WorkerSlot): number {
    return predictedRuntimeMs(task, slot.worker.id, this.inputs);
  }

  /** The claims on the slot, or undefined when it has none (cheap: called for every candidate). */
  claimsOn(slot: WorkerSlot): readonly Claim[] | undefined {
    return this.claimed.has(slot) ? this.workers.get(slot)!.claims : undefined;
  }

  /** Record an attempt this pass started on the slot (allocated there already). */
  started(slot: WorkerSlot, attemptId: string, task: Task): void {
    const running = { task, startedAtMs: this.nowMs };
    this.startedHere.set(attemptId, running);
    const wp = this.workers.get(slot);
    const allocation = slot.allocations.get(attemptId);
    if (wp && allocation) addRelease(wp, predictedEndMs(running, slot.worker.id, this.nowMs, this.inputs), allocation);
  }

  /** Reserve the fit's resources for `taskId`: later fits and start checks see them taken. */
  claim(taskId: string, task: Task, fit: Fit): Claim {
    const r = task.spec.resources;
    const claim: Claim = { taskId, startMs: fit.startMs, endMs: fit.endMs, cpuMillis: r.cpuMillis, memoryMib: r.memoryMib, gpuIndexes: fit.gpuIndexes };
    this.worker(fit.slot).claims.push(claim);
    this.claimed.add(fit.slot);
    return claim;
  }

  /**
   * The GPUs `task` would get if it started at `startMs` on the slot and ran its predicted runtime
   * there, or null when it does not fit all that time (status and tags are the caller's check).
   * GPUs: the lowest matching indexes free at the start and claimed by no overlapping reservation.
   */
  fitAt(task: Task, slot: WorkerSlot, startMs: number, runtimeMs = this.runtimeMs(task, slot)): number[] | null {
    const wp = this.worker(slot);
    const endMs = startMs + runtimeMs;
    const r = task.spec.resources;
    // Releases only add room; claims take it at their starts: check the start and each claim start inside.
    if (!roomAt(wp, startMs, r.cpuMillis, r.memoryMib)) return null;
    for (const c of wp.claims) if (c.startMs > startMs && c.startMs < endMs && !roomAt(wp, c.startMs, r.cpuMillis, r.memoryMib)) return null;
    if (r.gpuCount <= 0) return [];
    const { gpus, models } = sortedGpus(slot.worker.capacity.gpus);
    const model = r.gpuModel.toLowerCase();
    const picked: number[] = [];
    for (let i = 0; i < gpus.length && picked.length < r.gpuCount; i++) {
      const gpu = gpus[i];
      if ((model && !models[i].includes(model)) || gpu.memoryMib < r.gpuMemoryMib) continue;
      const busyUntil = wp.gpuBusyUntil.get(gpu.index);
      if (busyUntil !== undefined && busyUntil > startMs) continue;
      if (claimedBetween(wp, gpu.index, startMs, endMs)) continue;
      picked.push(gpu.index);
    }
    return picked.length === r.gpuCount ? picked : null;
  }

  /**
   * The earliest start (>= nowMs) at which `task` fits one ONLINE worker for its whole predicted
   * runtime there, with its GPUs; ties go to the first worker in the slots' order. Null when no
   * worker could ever run it, or none makes room within MAX_CHANGE_POINTS start times.
   */
  earliestFit(task: Task, nowMs = this.nowMs): Fit | null {
    let best: Fit | null = null;
    for (const slot of this.slots) {
      if (slot.worker.status !== "ONLINE" || !couldEverFit(task, slot.worker, slot.tagSet)) continue;
      const runtimeMs = this.runtimeMs(task, slot);
      const starts = changePoints(this.worker(slot), nowMs);
      for (const startMs of starts) {
        if (best !== null && startMs >= best.startMs) break;
        const gpuIndexes = this.fitAt(task, slot, startMs, runtimeMs);
        if (gpuIndexes !== null) {
          best = { slot, startMs, endMs: startMs + runtimeMs, gpuIndexes };
          break;
        }
      }
      if (best !== null && best.startMs <= nowMs) break; // nothing can be earlier
    }
    return best;
  }

  /** Free cpu, memory and task slots on the slot at time `atMs` (>= now), after releases and claims. */
  freeAt(slot: WorkerSlot, atMs: number): { cpuMillis: number; memoryMib: number; tasks: number } {
    return free(this.worker(slot), atMs);
  }

  private worker(slot: WorkerSlot): WorkerProfile {
    let wp = this.workers.get(slot);
    if (wp === undefined) {
      wp = { slot, releases: [], gpuBusyUntil: new Map(), claims: [] };
      const workerId = slot.worker.id;
      for (const allocation of slot.allocations.values()) {
        const running = this.startedHere.get(allocation.attemptId) ?? this.inputs.lookup(allocation.attemptId);
        addRelease(wp, predictedEndMs(running, workerId, this.nowMs, this.inputs), allocation);
      }
      this.workers.set(slot, wp);
    }
    return wp;
  }
}

function addRelease(wp: WorkerProfile, endMs: number, allocation: { cpuMillis: number; memoryMib: number; gpuIndexes: readonly number[] }): void {
  const releases = wp.releases;
  let i = releases.length;
  while (i > 0 && releases[i - 1].endMs > endMs) i--;
  releases.splice(i, 0, { endMs, cpuMillis: allocation.cpuMillis, memoryMib: allocation.memoryMib });
  for (const index of allocation.gpuIndexes) wp.gpuBusyUntil.set(index, endMs);
}

function free(wp: WorkerProfile, atMs: number): { cpuMillis: number; memoryMib: number; tasks: number } {
  const { slot } = wp;
  const c = slot.worker.capacity;
  let cpuMillis = c.cpuMillis - slot.allocatedCpuMillis;
  let memoryMib = c.memoryMib - slot.allocatedMemoryMib;
  let tasks = c.maxTasks - slot.allocations.size;
  for (const r of wp.releases) {
    if (r.endMs > atMs) break;
    cpuMillis += r.cpuMillis;
    memoryMib += r.memoryMib;
    tasks++;
  }
  for (const claim of wp.claims) {
    if (claim.startMs <= atMs && atMs < claim.endMs) {
      cpuMillis -= claim.cpuMillis;
      memoryMib -= claim.memoryMib;
      tasks--;
    }
  }
  return { cpuMillis, memoryMib, tasks };
}

function roomAt(wp: WorkerProfile, atMs: number, cpuMillis: number, memoryMib: number): boolean {
  const f = free(wp, atMs);
  return f.tasks >= 1 && f.cpuMillis >= cpuMillis && f.memoryMib >= memoryMib;
}

function claimedBetween(wp: WorkerProfile, gpuIndex: number, startMs: number, endMs: number): boolean {
  for (const c of wp.claims) if (c.startMs < endMs && c.endMs > startMs && c.gpuIndexes.includes(gpuIndex)) return true;
  return false;
}

/** Now, then the distinct predicted ends and claim ends after it, ascending: at most MAX_CHANGE_POINTS. */
function changePoints(wp: WorkerProfile, nowMs: number): number[] {
  const points = [nowMs];
  for (const r of wp.releases) if (r.endMs > nowMs) points.push(r.endMs);
  for (const c of wp.claims) if (c.endMs > nowMs) points.push(c.endMs);
  if (wp.claims.length > 0) points.sort((a, b) => a - b);
  const out: number[] = [];
  for (const p of points) {
    if (out.length > 0 && out[out.length - 1] === p) continue;
    out.push(p);
    if (out.length === MAX_CHANGE_POINTS) break;
  }
  return out;
}
