// Choosing preemption victims (issue 16): which running attempts to stop so that a higher-ranked
// task that fits nowhere can start. Pure: the caller says what runs (`running`) and what the
// preemptor was preempted by; this module only decides, it stops nothing and mutates no slot.
//
// Heuristic, per worker (bounded: at most `maxVictims` candidates, O(maxVictims) feasibility checks):
//   1. candidates: attempts the task outranks (rank.ts), that are preemptible, that the caller knows
//      (`running` returns something), and whose task never preempted this one (no ping-pong);
//      sorted by preference: borrowed quota first, then lowest class, lowest priority, then the most
//      recently started (least work lost; not started yet counts as most recent); the first
//      `maxVictims` are kept.
//   2. one victim: the first candidate, in preference order, whose release alone makes the task fit.
//   3. otherwise greedy: release candidates in preference order until the task fits (none: the
//      worker cannot help), then try to drop each victim again, least preferred first, keeping the
//      drop when the task still fits. No victim in the result can be spared on its own, but the set
//      is the smallest this search finds, not always the smallest that exists (that search is
//      exponential in the candidates).
// Across workers: fewest victims, then least work lost (sum of run time so far), then slot order.
// Victims are always on one worker: the task runs on one worker, so freeing two helps nothing.
import { couldEverFit, feasibleGpus } from "../feasibility.js";
import type { Task } from "../types.js";
import { release, type WorkerSlot } from "../worker-slot.js";
import { CLASS_RANK, defaultPreemptible, effectiveMargin, outranks, outranksAnything, PRIORITY_STEP } from "./rank.js";

/** What the caller knows of the attempt holding an allocation. */
export interface RunningInfo {
  task: Task;
  /** When it started running; null when assigned but not started (nothing to lose yet). */
  startedAtMs: number | null;
  /** Runs on quota borrowed from other projects (reclaimed first). */
  borrowed: boolean;
  /**
   * Task ids that preempted this task before. Not read here to judge it as a victim (the rule reads
   * the preemptor's list, `preemptedByOf`); kept so one record serves both roles in the caller.
   */
  preemptedBy?: readonly string[];
}

export interface VictimOptions {
  /** Now (epoch ms): run time so far is measured to it. Injected, the core reads no clock. */
  nowMs: number;
  /** Priority steps above a same-class victim (default 1, never below 1; see rank.ts). */
  priorityMargin?: number;
  /** Whether a running task may be preempted at all (default: BATCH only). */
  preemptible?: (task: Task) => boolean;
  /** Task ids that preempted `task` before: those it may never preempt back (default: none). */
  preemptedByOf?: (task: Task) => readonly string[];
  /** Candidates considered per worker, the search bound (default 8). */
  maxVictims?: number;
}

export const DEFAULT_MAX_VICTIMS = 8;

export const REASON_FITS_NOW = "fits without preemption";
export const REASON_OUTRANKS_NOTHING = "its queue class and priority outrank no running work";
export const REASON_FITS_NO_WORKER = "fits no online worker even when idle";
export const REASON_NOT_ENOUGH = "no lower-priority preemptible work frees enough on one worker";

export interface Victims {
  workerId: string;
  /** Attempts to stop, in preference order. */
  attemptIds: string[];
  /** The GPUs the task gets once they are released. */
  gpuIndexes: number[];
}

export type VictimChoice = { victims: Victims; reason: "" } | { victims: null; reason: string };

interface Candidate {
  attemptId: string;
  info: RunningInfo;
  /** Run time so far: what stopping it throws away (checkpoints aside). */
  workMs: number;
}

interface WorkerPick {
  slot: WorkerSlot;
  victims: Candidate[];
  gpuIndexes: number[];
  workMs: number;
}

export function chooseVictims(
  task: Task,
  slots: readonly WorkerSlot[],
  running: (attemptId: string) => RunningInfo | undefined,
  options: VictimOptions,
): VictimChoice {
  const margin = effectiveMargin(options.priorityMargin);
  if (!outranksAnything(task, margin)) return { victims: null, reason: REASON_OUTRANKS_NOTHING };
  const preemptible = options.preemptible ?? defaultPreemptible;
  const spared = new Set(options.preemptedByOf?.(task) ?? []);
  const maxVictims = Math.max(0, Math.floor(options.maxVictims ?? DEFAULT_MAX_VICTIMS));

  let best: WorkerPick | null = null;
  let anyCouldFit = false;
  for (const slot of slots) {
    if (slot.worker.status !== "ONLINE" || !couldEverFit(task, slot.worker, slot.tagSet)) continue;
    anyCouldFit = true;
    // Asked only for tasks that fit nowhere; answering "stop these" for one that fits would be wrong.
    if (feasibleGpus(task, slot) !== null) return { victims: null, reason: REASON_FITS_NOW };
    const candidates: Candidate[] = [];
    for (const attemptId of slot.allocations.keys()) {
      const info = running(attemptId);
      if (!info || spared.has(info.task.id) || !outranks(task, info.task, margin) || !preemptible(info.task)) continue;
      candidates.push({ attemptId, info, workMs: info.startedAtMs === null ? 0 : Math.max(0, options.nowMs - info.startedAtMs) });
    }
    candidates.sort(byPreference);
    const pick = pickOnWorker(task, slot, candidates.slice(0, maxVictims));
    if (pick && (best === null || better(pick, best))) best = pick;
  }
  if (!best) return { victims: null, reason: anyCouldFit ? REASON_NOT_ENOUGH : REASON_FITS_NO_WORKER };
  return { victims: { workerId: best.slot.worker.id, attemptIds: best.victims.map((v) => v.attemptId), gpuIndexes: best.gpuIndexes }, reason: "" };
}

/** Preference among victims: borrowed, lowest class, lowest priority, most recently started; attempt id keeps it deterministic. */
function byPreference(a: Candidate, b: Candidate): number {
  if (a.info.borrowed !== b.info.borrowed) return a.info.borrowed ? -1 : 1;
  const ta = a.info.task.spec;
  const tb = b.info.task.spec;
  return (
    CLASS_RANK[ta.queueClass] - CLASS_RANK[tb.queueClass] ||
    PRIORITY_STEP[ta.priority] - PRIORITY_STEP[tb.priority] ||
    a.workMs - b.workMs ||
    (a.attemptId < b.attemptId ? -1 : a.attemptId > b.attemptId ? 1 : 0)
  );
}

/** Strictly better worker: fewer victims, then less work lost; ties keep the earlier slot. */
function better(a: WorkerPick, b: WorkerPick): boolean {
  if (a.victims.length !== b.victims.length) return a.victims.length < b.victims.length;
  return a.workMs < b.workMs;
}

function pickOnWorker(task: Task, slot: WorkerSlot, candidates: readonly Candidate[]): WorkerPick | null {
  const done = (victims: Candidate[], gpuIndexes: number[]): WorkerPick => ({ slot, victims, gpuIndexes, workMs: victims.reduce((s, v) => s + v.workMs, 0) });
  for (const c of candidates) {
    const gpus = fitsWithout(task, slot, [c]);
    if (gpus) return done([c], gpus);
  }
  // Greedy: the smallest preference-order prefix that makes room (monotone: releasing more never hurts).
  let n = 2;
  while (n <= candidates.length && !fitsWithout(task, slot, candidates.slice(0, n))) n++;
  if (n > candidates.length) return null;
  let victims = candidates.slice(0, n);
  // The last one added is needed (the prefix before it did not fit); the others may not be. Least
  // preferred first, so that the victims kept are the ones the order prefers to stop.
  for (let i = victims.length - 2; i >= 0; i--) {
    const without: Candidate[] = victims.filter((_, j) => j !== i);
    if (fitsWithout(task, slot, without)) victims = without;
  }
  return done(victims, fitsWithout(task, slot, victims)!);
}

/** feasibleGpus on a copy of the slot with the victims released: the caller's slot is never touched. */
function fitsWithout(task: Task, slot: WorkerSlot, victims: readonly Candidate[]): number[] | null {
  const copy: WorkerSlot = { ...slot, allocations: new Map(slot.allocations), allocatedGpus: new Set(slot.allocatedGpus) };
  for (const v of victims) release(copy, v.attemptId);
  return feasibleGpus(task, copy);
}
