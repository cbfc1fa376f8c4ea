// One pass of preemption (issue 16), after the dispatch pass: for blocked tasks in policy order, pick
// the running work to stop so that they can start (victims.ts), within the rate limit. Pure: it
// decides, the caller stops processes and keeps what is in flight.
//
// Bounded work per pass: only tasks that outrank something are looked at, at most
// `maxPreemptorsPerPass` of them (each one costs a scan of the workers), and a worker chosen for
// one preemptor is not offered to another in the same pass (its freed room is spoken for).
import type { Task } from "../types.js";
import type { WorkerSlot } from "../worker-slot.js";
import type { PreemptionRateLimiter } from "./rate-limit.js";
import { causeOf, effectiveMargin, isPreemptible, outranksAnything, type PreemptionCause } from "./rank.js";
import { chooseVictims, type RunningInfo, type Victims } from "./victims.js";

export interface PreemptionOptions {
  nowMs: number;
  priorityMargin: number;
  /** Candidates per worker (victims.ts). */
  maxVictims?: number;
  /** Blocked tasks looked at per pass (default DEFAULT_PREEMPTORS_PER_PASS). */
  maxPreemptorsPerPass?: number;
  limiter: PreemptionRateLimiter;
  /** Whether the task already waits for victims it chose before (it must not choose more). */
  inFlight: (taskId: string) => boolean;
  /** Task ids that preempted `task` before: it never preempts them back. */
  preemptedByOf?: (task: Task) => readonly string[];
}

export const DEFAULT_PREEMPTORS_PER_PASS = 8;

export const REASON_RATE_LIMITED = "waiting: the preemption rate limit is reached";

export interface PlannedPreemption {
  preemptor: Task;
  victims: Victims;
  /** Per victim attempt, in victims.attemptIds order: its task and the metric label. */
  victimTasks: Task[];
  causes: PreemptionCause[];
}

export interface PreemptionPlan {
  preemptions: PlannedPreemption[];
  /** Preemptor task id -> why no preemption was planned for it (rate limit), when that is news. */
  pendingReasons: Map<string, string>;
  /** Victim sets found but not started for the rate limit. */
  rateLimited: number;
}

/**
 * `blocked`: queued tasks the dispatch pass found no room for, in policy order. `running`: what runs
 * under an attempt id; it must return undefined for attempts already being stopped.
 */
export function planPreemptions(
  blocked: Iterable<Task>,
  slots: readonly WorkerSlot[],
  running: (attemptId: string) => RunningInfo | undefined,
  options: PreemptionOptions,
): PreemptionPlan {
  const margin = effectiveMargin(options.priorityMargin);
  const budget = options.maxPreemptorsPerPass ?? DEFAULT_PREEMPTORS_PER_PASS;
  const plan: PreemptionPlan = { preemptions: [], pendingReasons: new Map(), rateLimited: 0 };
  const spoken = new Set<string>(); // workers chosen earlier in this pass
  let looked = 0;
  for (const task of blocked) {
    if (looked >= budget) break;
    if (!outranksAnything(task, margin) || options.inFlight(task.id)) continue;
    looked++;
    const open = spoken.size === 0 ? slots : slots.filter((s) => !spoken.has(s.worker.id));
    const choice = chooseVictims(task, open, running, {
      nowMs: options.nowMs,
      priorityMargin: margin,
      preemptible: isPreemptible,
      preemptedByOf: options.preemptedByOf,
      maxVictims: options.maxVictims,
    });
    if (choice.victims === null) continue; // its pending reason (no room) stands
    if (!options.limiter.allow(options.nowMs)) {
      plan.rateLimited++;
      plan.pendingReasons.set(task.id, REASON_RATE_LIMITED);
      continue;
    }
    spoken.add(choice.victims.workerId);
    const victimTasks = choice.victims.attemptIds.map((id) => running(id)!.task);
    plan.preemptions.push({ preemptor: task, victims: choice.victims, victimTasks, causes: victimTasks.map((v) => causeOf(task, v)) });
  }
  return plan;
}
