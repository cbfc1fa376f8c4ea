// The engine's sharing hooks (issue 15), in one place so the engine stays about events: the queue
// for the ordering (createTaskQueue, so `multifactor` is the master's MultifactorQueue reading the
// fair-share factors kept by SimFairShare), the quota gate of each pass (quotaGate over a
// QuotaLedger filled with what the slots run now, as master/sharing/fair-share.ts builds it), and
// the per-project accounting behind the per-project metrics and Jain's index.
import type { QuotaGate } from "../core/dispatch-plan.js";
import { billingRate } from "../core/fairshare/decay.js";
import { taskDemand } from "../core/fairshare/demand.js";
import { quotaGate } from "../core/fairshare/quota-gate.js";
import { QuotaLedger } from "../core/fairshare/quota-ledger.js";
import { runningUsage } from "../core/fairshare/running-usage.js";
import { createTaskQueue, type TaskQueue } from "../core/task-queue.js";
import type { Task } from "../core/types.js";
import type { WorkerSlot } from "../core/worker-slot.js";
import { SIM_SHARING_DEFAULTS, SimFairShare, type SharingOptions } from "./fair-share.js";
import { FairnessMeter, type FairnessSummary } from "./fairness.js";
import type { TaskOutcome } from "./metrics.js";
import { projectMetrics, type ProjectMetrics } from "./project-metrics.js";

export type OrderingName = "priority" | "fifo" | "multifactor";

export interface SharingResult {
  projects: ProjectMetrics[];
  fairness: FairnessSummary;
  /** Attempts started on quota borrowed from other projects. */
  borrowedStarts: number;
}

export class SimSharing {
  readonly fairShare: SimFairShare;
  private readonly meter: FairnessMeter;
  private readonly consumed = new Map<string, number>();
  private readonly billing;
  private nowMs = 0;
  borrowedStarts = 0;

  constructor(private readonly options: SharingOptions) {
    this.fairShare = new SimFairShare(options);
    this.billing = options.billing ?? SIM_SHARING_DEFAULTS.billing;
    this.meter = new FairnessMeter(this.fairShare.halfLifeMs, (p) => this.fairShare.sharesOf(p));
  }

  /** Whether a run needs this at all: the orderings that ignore projects on a one-project workload do not. */
  static needed(ordering: OrderingName, options: SharingOptions | undefined, projects: Iterable<string | undefined>): boolean {
    if (ordering === "multifactor" || options?.quotas?.length || (options?.defaultQuota ?? null) !== null) return true;
    const seen = new Set<string>();
    for (const p of projects) if (seen.add(p ?? "sim").size > 1) return true;
    return false;
  }

  /** The queue for `ordering`; the multifactor clock is the simulated time of the current instant. */
  queue(ordering: OrderingName): TaskQueue {
    return createTaskQueue(ordering, {
      weights: this.options.weights ?? SIM_SHARING_DEFAULTS.weights,
      maxAgeMs: this.options.maxAgeMs ?? SIM_SHARING_DEFAULTS.maxAgeMs,
      fairShareOf: (project) => this.fairShare.factorOf(project),
      now: () => this.nowMs,
    });
  }

  /** Before the events at `nowMs`: usage ticks due by now, then the fairness sample of the interval that ends. */
  beforeInstant(nowMs: number, slots: readonly WorkerSlot[]): void {
    this.nowMs = nowMs;
    this.fairShare.advanceTo(nowMs, slots);
    this.meter.sample(nowMs);
  }

  /** This pass's quota gate; undefined when no project is limited (as the master skips quotas then). */
  gate(slots: readonly WorkerSlot[]): QuotaGate | undefined {
    const quotas = this.options.quotas ?? [];
    const defaultQuota = this.options.defaultQuota ?? null;
    if (defaultQuota === null && !quotas.some((q) => Object.keys(q.nominal).length > 0)) return undefined;
    const ledger = new QuotaLedger(quotas, defaultQuota);
    for (const [project, amounts] of runningUsage(slots)) ledger.add(project, amounts);
    return quotaGate(ledger);
  }

  queued(task: Task): void {
    this.meter.queuedDelta(task.spec.project, 1);
  }

  started(task: Task, borrowed: boolean): void {
    this.meter.queuedDelta(task.spec.project, -1);
    this.meter.runningDelta(task.spec.project, 1, this.rateOf(task));
    if (borrowed) this.borrowedStarts++;
  }

  ended(task: Task, durationMs: number): void {
    const p = task.spec.project;
    const rate = this.rateOf(task);
    this.meter.runningDelta(p, -1, rate);
    this.consumed.set(p, (this.consumed.get(p) ?? 0) + (rate * durationMs) / 1000);
  }

  /** Billing units per second the task holds while it runs (what runningUsage bills it). */
  private rateOf(task: Task): number {
    return billingRate(taskDemand(task.spec.resources, []), this.billing);
  }

  result(outcomes: readonly TaskOutcome[]): SharingResult {
    return { projects: projectMetrics(outcomes, this.consumed), fairness: this.meter.summary(), borrowedStarts: this.borrowedStarts };
  }
}
