// The simulator's preemption settings (issue 16): the master's (enabled, priority margin, rate
// limit per minute) plus what the simulator must model because no real process runs: how long a
// signalled task takes to stop, and how much of its work survives (periodic checkpoints).
import { DEFAULT_PREEMPTORS_PER_PASS } from "../core/preemption/plan.js";
import { DEFAULT_PRIORITY_MARGIN } from "../core/preemption/rank.js";
import { DEFAULT_RATE_WINDOW_MS } from "../core/preemption/rate-limit.js";

export interface CheckpointOptions {
  /** A running attempt saves its progress every this many ms of its own run time. */
  everyMs: number;
}

export interface SimPreemptionOptions {
  /**
   * False: nothing is preempted (planDispatch collects nothing), but the per-class waits and the
   * work accounting are still kept, so a run without preemption is the baseline of a comparison.
   */
  enabled: boolean;
  /** Priority steps above a same-class victim (rank.ts; default DEFAULT_PRIORITY_MARGIN). */
  priorityMargin?: number;
  /** Preemptions (one preemptor's victim set each) per window, the master's `perMinute`; 0 allows none. */
  perMinute: number;
  /** The rate limit's window (default one minute, as in the master). */
  windowMs?: number;
  /** The token bucket's size (default `perMinute`, as in the master). */
  burst?: number;
  /**
   * Signal -> exit of a victim: the time it takes to checkpoint and exit (default 5 s). Capped by
   * the victim's grace (spec.preemptGraceMs), after which the agent kills it anyway. A victim whose
   * remaining run time is shorter simply finishes.
   */
  stopDelayMs?: number;
  /** Periodic checkpoints: a requeued victim resumes from its last one. Absent: it restarts from zero. */
  checkpoint?: CheckpointOptions;
  /** Blocked tasks handed to the planner per pass (the master's MAX_BLOCKED, 8). */
  maxBlocked?: number;
  /** Blocked tasks the planner looks at per pass (plan.ts's default). */
  maxPreemptorsPerPass?: number;
}

export const DEFAULT_STOP_DELAY_MS = 5_000;

/** The master's MAX_BLOCKED (master/preemptions.ts). */
export const DEFAULT_MAX_BLOCKED = 8;

export interface ResolvedPreemption {
  enabled: boolean;
  priorityMargin: number;
  perMinute: number;
  windowMs: number;
  burst: number | undefined;
  stopDelayMs: number;
  checkpointEveryMs: number | null;
  maxBlocked: number;
  maxPreemptorsPerPass: number;
}

export function resolvePreemption(o: SimPreemptionOptions): ResolvedPreemption {
  const stopDelayMs = o.stopDelayMs ?? DEFAULT_STOP_DELAY_MS;
  if (!(stopDelayMs >= 0) || !Number.isFinite(stopDelayMs))
    throw new RangeError(`preemption stop delay must be a finite number of ms >= 0, got ${stopDelayMs}`);
  const every = o.checkpoint?.everyMs ?? null;
  if (every !== null && (!(every > 0) || !Number.isFinite(every))) throw new RangeError(`checkpoint interval must be a finite number of ms > 0, got ${every}`);
  return {
    enabled: o.enabled,
    priorityMargin: o.priorityMargin ?? DEFAULT_PRIORITY_MARGIN,
    perMinute: o.perMinute,
    windowMs: o.windowMs ?? DEFAULT_RATE_WINDOW_MS,
    burst: o.burst,
    stopDelayMs: Math.round(stopDelayMs),
    checkpointEveryMs: every,
    maxBlocked: o.maxBlocked ?? DEFAULT_MAX_BLOCKED,
    maxPreemptorsPerPass: o.maxPreemptorsPerPass ?? DEFAULT_PREEMPTORS_PER_PASS,
  };
}
