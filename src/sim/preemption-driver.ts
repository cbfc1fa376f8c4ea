// The simulator's counterpart of master/preemptions.ts: the same core calls in the same places
// (planDispatch's `preemptors` collector, then planPreemptions with the pass's blocked tasks and a
// PreemptionRateLimiter), and the same bookkeeping of what is in flight: preemptor -> the victim
// attempts it waits for, attempts being stopped (never chosen twice), and who preempted whom (never
// preempted back). It decides only; the engine signals the victims and ends their attempts.
import type { BlockedCollector } from "../core/dispatch-plan.js";
import { type PlannedPreemption, planPreemptions } from "../core/preemption/plan.js";
import { effectiveMargin, outranksAnything } from "../core/preemption/rank.js";
import { PreemptionRateLimiter } from "../core/preemption/rate-limit.js";
import type { RunningInfo } from "../core/preemption/victims.js";
import type { Task } from "../core/types.js";
import type { WorkerSlot } from "../core/worker-slot.js";
import type { ResolvedPreemption } from "./preemption-options.js";

/** The master's dispatch safety timer (master/leader-term.ts). */
export const DISPATCH_TIMER_MS = 1_000;

interface InFlight {
  preemptor: Task;
  /** Victim attempts not yet ended. */
  attemptIds: Set<string>;
}

export class SimPreemptions {
  private readonly limiter: PreemptionRateLimiter;
  private readonly margin: number;
  /** What runs, by attempt id (the master's liveAttempts). */
  private readonly live = new Map<string, RunningInfo>();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly stopping = new Set<string>();
  private readonly preemptedBy = new Map<string, string[]>();
  /** Tasks the rate limit held back in the last pass (counted once per episode, as the master does). */
  private heldBack: ReadonlySet<string> = new Set();
  private readonly running = (attemptId: string): RunningInfo | undefined => {
    if (this.stopping.has(attemptId)) return undefined;
    const info = this.live.get(attemptId);
    return info !== undefined && info.task.currentAttemptId === attemptId ? info : undefined;
  };
  /** Victim sets started (what the rate limit counts). */
  sets = 0;
  /** Tasks held back by the rate limit, once per episode. */
  rateLimited = 0;

  constructor(private readonly config: ResolvedPreemption) {
    this.limiter = new PreemptionRateLimiter({ limit: config.perMinute, windowMs: config.windowMs, burst: config.burst });
    this.margin = effectiveMargin(config.priorityMargin);
  }

  started(attemptId: string, task: Task, nowMs: number, borrowed: boolean): void {
    this.live.set(attemptId, { task, startedAtMs: nowMs, borrowed });
  }

  /** The attempt ended (finished, failed or stopped). */
  ended(attemptId: string): void {
    this.live.delete(attemptId);
    this.stopping.delete(attemptId);
  }

  /** The task will never run again: it can no longer be spared from anyone. */
  finished(taskId: string): void {
    this.preemptedBy.delete(taskId);
  }

  /** What planDispatch should collect in the next pass; undefined when preemption is off (as in the master). */
  collector(): BlockedCollector | undefined {
    if (!this.config.enabled || this.config.perMinute === 0) return undefined;
    this.prune();
    return { max: this.config.maxBlocked, accept: (task) => outranksAnything(task, this.margin) && !this.inFlight.has(task.id) };
  }

  /** After a dispatch pass: the preemptions to start now. */
  afterPass(blocked: readonly Task[], slots: readonly WorkerSlot[], nowMs: number): PlannedPreemption[] {
    const before = this.heldBack;
    this.heldBack = new Set();
    if (blocked.length === 0) return [];
    const plan = planPreemptions(blocked, slots, this.running, {
      nowMs,
      priorityMargin: this.margin,
      limiter: this.limiter,
      inFlight: (taskId) => this.inFlight.has(taskId),
      preemptedByOf: (task) => this.preemptedBy.get(task.id) ?? [],
      maxPreemptorsPerPass: this.config.maxPreemptorsPerPass,
    });
    this.heldBack = new Set(plan.pendingReasons.keys());
    for (const id of this.heldBack) if (!before.has(id)) this.rateLimited++;
    for (const p of plan.preemptions) {
      this.sets++;
      this.inFlight.set(p.preemptor.id, { preemptor: p.preemptor, attemptIds: new Set(p.victims.attemptIds) });
      p.victims.attemptIds.forEach((attemptId, i) => {
        const victim = p.victimTasks[i];
        this.stopping.add(attemptId);
        this.preemptedBy.set(victim.id, [...(this.preemptedBy.get(victim.id) ?? []), p.preemptor.id]);
      });
    }
    return plan.preemptions;
  }

  /**
   * When a pass should run again for tasks the rate limit held back: the master's passes are kicked
   * by events and by its one-second dispatch timer (master/leader-term.ts); the simulator runs a
   * pass only at events, so while something is held back the engine adds the timer's ticks.
   */
  wakeAfterMs(): number | null {
    return this.heldBack.size > 0 ? DISPATCH_TIMER_MS : null;
  }

  /** Forgets what has ended: victims no longer live, preemptors no longer queued. */
  private prune(): void {
    for (const [taskId, flight] of this.inFlight) {
      for (const id of flight.attemptIds) if (!this.live.has(id)) flight.attemptIds.delete(id);
      if (flight.attemptIds.size === 0 || flight.preemptor.state !== "QUEUED") this.inFlight.delete(taskId);
    }
  }
}
