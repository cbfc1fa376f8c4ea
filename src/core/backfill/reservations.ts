// Reservations and backfill for one dispatch pass (DESIGN §3; EASY and conservative backfilling as
// in Slurm's backfill scheduler and Mu'alem & Feitelson 2001). planDispatch walks the queue in
// policy order; with this pass state:
// - a task that fits now starts now unless it would delay a reservation: on a worker holding one,
//   it must fit there for its whole predicted runtime beside the reservations (so it either ends
//   before a reservation starts or uses only what that reservation leaves over: cpu, memory, task
//   slots, and GPUs other than the reserved indexes);
// - a task that cannot start now, while fewer than K reservations exist, gets one: the earliest
//   start and worker where it fits on the availability profile, earlier reservations included;
//   it constrains every later task of the pass.
// Nothing carries over between passes: reservations are recomputed from scratch each pass, so they
// follow the profile (an attempt ending early or overrunning moves them).
import type { Task } from "../types.js";
import type { WorkerSlot } from "../worker-slot.js";
import { AvailabilityProfile, type ProfileInputs } from "./profile.js";

/** Backfill policies by name: how many blocked tasks get a reservation (K). */
export const BACKFILL_POLICIES = { none: 0, easy: 1, conservative: Number.POSITIVE_INFINITY } as const;
export type BackfillPolicy = keyof typeof BACKFILL_POLICIES;

export interface BackfillOptions extends ProfileInputs {
  /** K: 0 none (planDispatch as without backfill), 1 EASY, Infinity conservative, or any K. */
  reservations: number;
}

export interface Reservation {
  taskId: string;
  workerId: string;
  /** Expected start (epoch ms). */
  startMs: number;
  /** Expected end: start + the task's predicted runtime on that worker. */
  endMs: number;
  gpuIndexes: readonly number[];
}

/** The pending reason of a reserved task, like squeue's START_TIME. */
export function reservedReason(r: { startMs: number; workerId: string }): string {
  return `reserved: starts ~${new Date(r.startMs).toISOString()} on ${r.workerId}`;
}

/** The pending reason of a task that fits now but would delay a reservation. */
export function delayReason(reservedTaskId: string): string {
  return `waiting: would delay the reservation of task ${reservedTaskId}`;
}

export class BackfillPass {
  /** This pass's reservations by task id, in the order they were made. */
  readonly reservations = new Map<string, Reservation>();
  private readonly profile: AvailabilityProfile;

  constructor(
    slots: readonly WorkerSlot[],
    private readonly nowMs: number,
    private readonly options: BackfillOptions,
  ) {
    this.profile = new AvailabilityProfile(slots, nowMs, options);
  }

  /** Whether a blocked task may still get a reservation this pass (fewer than K made). */
  get canReserve(): boolean {
    return this.reservations.size < this.options.reservations;
  }

  /**
   * Starting `task` on the slot now with `gpuIndexes` (what the feasibility filter picked): the
   * GPUs to use (the same, or others that leave the reserved ones alone), or the reservation it
   * would delay.
   */
  admit(task: Task, slot: WorkerSlot, gpuIndexes: number[]): number[] | Reservation {
    const claims = this.profile.claimsOn(slot);
    if (claims === undefined) return gpuIndexes;
    const runtimeMs = this.profile.runtimeMs(task, slot);
    const endMs = this.nowMs + runtimeMs;
    let first: (typeof claims)[number] | null = null;
    for (const c of claims) if (c.startMs < endMs && c.endMs > this.nowMs && (first === null || c.startMs < first.startMs)) first = c;
    if (first === null) return gpuIndexes; // ends before any reservation here starts
    const fit = this.profile.fitAt(task, slot, this.nowMs, runtimeMs);
    return fit ?? this.reservations.get(first.taskId)!;
  }

  /** Reserve the earliest fit for a task that cannot start now; null when none is found. */
  reserve(task: Task): Reservation | null {
    const fit = this.profile.earliestFit(task, this.nowMs);
    if (fit === null) return null;
    this.profile.claim(task.id, task, fit);
    const reservation: Reservation = { taskId: task.id, workerId: fit.slot.worker.id, startMs: fit.startMs, endMs: fit.endMs, gpuIndexes: fit.gpuIndexes };
    this.reservations.set(task.id, reservation);
    return reservation;
  }

  /** The pass started `task` on the slot as `attemptId` (allocated there already). */
  started(task: Task, slot: WorkerSlot, attemptId: string): void {
    // Once no reservation can be made the profile is only read on workers holding one.
    if (this.canReserve || this.profile.claimsOn(slot) !== undefined) this.profile.started(slot, attemptId, task);
  }
}
