// Preemption in the master (issue 16): after each dispatch pass, the tasks that found no room may stop
// lower-ranked preemptible work. The pure core decides (src/core/preemption); this object owns what
// is in flight: which attempts are being stopped and for whom, the rate limit, and who preempted
// whom. It sends the stop orders down the agent streams; the agent signals the process group and
// reports the attempt PREEMPTED, and the task lifecycle requeues the task (no retry used) and frees
// the room, which the next pass gives to the preemptor.
//
// Nothing here is written to the database: an order lost in a failover is at worst made again by
// the next leader's pass, and an attempt already told to stop still ends PREEMPTED on its own.
import type { BlockedCollector } from "../src/core/dispatch-plan.js";
import { planPreemptions, type PlannedPreemption } from "../src/core/preemption/plan.js";
import { effectiveMargin, isPreemptible, outranksAnything } from "../src/core/preemption/rank.js";
import { PreemptionRateLimiter } from "../src/core/preemption/rate-limit.js";
import type { RunningInfo } from "../src/core/preemption/victims.js";
import { DEFAULT_PREEMPT_GRACE_MS } from "../src/core/spec-rules.js";
import type { Task } from "../src/core/types.js";
import type { WorkerSlot } from "../src/core/worker-slot.js";
import type { MetricsRecorder } from "../src/telemetry/metrics.js";
import type { Logger } from "./logger.js";
import type { MasterState } from "./state.js";
import type { WorkerCommands } from "./worker-commands.js";

export interface PreemptionConfig {
  enabled: boolean;
  /** Priority steps above a same-class victim (rank.ts). */
  priorityMargin: number;
  /** Preemptions (one preemptor's victim set each) started per minute at most. */
  perMinute: number;
}

export interface PreemptionDeps {
  state: MasterState;
  commands: WorkerCommands;
  log: Logger;
  config: PreemptionConfig;
  recorder?: MetricsRecorder;
}

/** Blocked tasks handed to the planner per pass at most (each costs one scan of the workers). */
const MAX_BLOCKED = 8;

interface InFlight {
  workerId: string;
  /** Victim attempts not yet ended. */
  attemptIds: Set<string>;
}

export class Preemptions {
  private readonly limiter: PreemptionRateLimiter;
  private readonly margin: number;
  /** Preemptor task id -> the victims it waits for. */
  private readonly inFlight = new Map<string, InFlight>();
  /** Victim attempt id -> preemptor task id, while being stopped (no one may choose it again). */
  private readonly stopping = new Map<string, string>();
  /** Victim task id -> the tasks that preempted it (never preempted back by it). */
  private readonly preemptedBy = new Map<string, string[]>();
  private readonly running: (attemptId: string) => RunningInfo | undefined;
  /** The last pass's tasks whose preemption the rate limit held back -> why (their pending reason). */
  private heldBack: ReadonlyMap<string, string> = new Map();

  constructor(private readonly deps: PreemptionDeps) {
    this.limiter = new PreemptionRateLimiter({ limit: deps.config.perMinute });
    this.margin = effectiveMargin(deps.config.priorityMargin);
    const { state } = deps;
    this.running = (attemptId) => {
      if (this.stopping.has(attemptId)) return undefined;
      const live = state.liveAttempts.get(attemptId);
      const task = live && state.activeTasks.get(live.attempt.taskId);
      if (!live || !task || task.currentAttemptId !== attemptId) return undefined;
      return { task, startedAtMs: live.attempt.startedAtMs, borrowed: live.attempt.borrowed === true };
    };
  }

  /** What planDispatch should collect for the next pass; undefined when preemption is off. */
  collector(): BlockedCollector | undefined {
    if (!this.deps.config.enabled || this.deps.config.perMinute === 0) return undefined;
    this.prune();
    return { max: MAX_BLOCKED, accept: (task) => outranksAnything(task, this.margin) && !this.inFlight.has(task.id) };
  }

  /** After a dispatch pass: plan preemptions for `blocked` and send the stop orders. */
  afterPass(blocked: readonly Task[], nowMs: number): void {
    const before = this.heldBack;
    this.heldBack = new Map();
    if (blocked.length === 0) return;
    const candidates = this.workersWithVictims();
    if (candidates.length === 0) return;
    const plan = planPreemptions(blocked, candidates, this.running, {
      nowMs,
      priorityMargin: this.margin,
      limiter: this.limiter,
      inFlight: (taskId) => this.inFlight.has(taskId),
      preemptedByOf: (task) => this.preemptedBy.get(task.id) ?? [],
    });
    this.heldBack = plan.pendingReasons;
    // Counted and logged once per task held back, not once per pass that holds it back again.
    const fresh = [...plan.pendingReasons.keys()].filter((id) => !before.has(id));
    for (const _ of fresh) this.deps.recorder?.preemption("rate_limited");
    if (fresh.length > 0) this.deps.log.warn("preemptions held back by the rate limit", { tasks: fresh.join(","), perMinute: this.deps.config.perMinute });
    for (const p of plan.preemptions) this.start(p);
  }

  /**
   * The workers running anything preemptible, the only ones where a preemptor can free room: one
   * scan of the running attempts per pass, instead of one per preemptor over every worker (which
   * was 3% of the master's CPU in the end-to-end benchmark, where nothing is preemptible).
   */
  private workersWithVictims(): WorkerSlot[] {
    const { state } = this.deps;
    const workers = new Set<string>();
    for (const [attemptId, live] of state.liveAttempts) {
      if (workers.has(live.workerId)) continue;
      const info = this.running(attemptId);
      if (info && isPreemptible(info.task)) workers.add(live.workerId);
    }
    return workers.size === 0 ? [] : [...state.slots.values()].filter((slot) => workers.has(slot.worker.id));
  }

  /** Why a queued task waits while its victims stop, or for the rate limit; null when neither. */
  reasonFor(taskId: string): string | null {
    const flight = this.inFlight.get(taskId);
    if (flight === undefined) return this.heldBack.get(taskId) ?? null;
    const live = [...flight.attemptIds].filter((id) => this.deps.state.liveAttempts.has(id)).length;
    if (live === 0) return null;
    return `preempting: waiting for ${live} preempted task${live === 1 ? "" : "s"} on ${flight.workerId} to stop`;
  }

  private start(p: PlannedPreemption): void {
    const { commands, log } = this.deps;
    const { workerId, attemptIds } = p.victims;
    this.inFlight.set(p.preemptor.id, { workerId, attemptIds: new Set(attemptIds) });
    const reason = `preempted by task ${p.preemptor.id} (${p.preemptor.spec.queueClass} ${p.preemptor.spec.priority})`;
    attemptIds.forEach((attemptId, i) => {
      const victim = p.victimTasks[i];
      this.stopping.set(attemptId, p.preemptor.id);
      this.preemptedBy.set(victim.id, [...(this.preemptedBy.get(victim.id) ?? []), p.preemptor.id]);
      this.deps.recorder?.preemption(p.causes[i]);
      const signal = victim.spec.preemptSignal ?? "SIGTERM";
      const graceMs = victim.spec.preemptGraceMs ?? DEFAULT_PREEMPT_GRACE_MS;
      // Not delivered: the worker's session is gone; liveness ends the attempt (LOST) and frees the room.
      const delivered = commands.preempt(workerId, attemptId, signal, graceMs, reason);
      log.info("preempting an attempt", { task: victim.id, attempt: attemptId, worker: workerId, preemptor: p.preemptor.id, cause: p.causes[i], delivered });
    });
  }

  /** Forgets what has ended: victims no longer live, preemptors no longer queued, tasks gone. */
  private prune(): void {
    const { state } = this.deps;
    for (const [attemptId] of this.stopping) if (!state.liveAttempts.has(attemptId)) this.stopping.delete(attemptId);
    for (const [taskId, flight] of this.inFlight) {
      for (const id of flight.attemptIds) if (!state.liveAttempts.has(id)) flight.attemptIds.delete(id);
      const task = state.activeTasks.get(taskId);
      if (flight.attemptIds.size === 0 || !task || task.state !== "QUEUED") this.inFlight.delete(taskId);
    }
    for (const taskId of this.preemptedBy.keys()) if (!state.activeTasks.has(taskId)) this.preemptedBy.delete(taskId);
  }
}
