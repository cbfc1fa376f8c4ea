// Sharing in the simulator (issue 15): each project's decayed usage and fair-share factor, kept the
// way the master keeps them (master/sharing/fair-share.ts), with simulated time as the clock. Every
// `usageTickMs` each project is charged, for the time since the last tick, at the billing rate of
// what it holds at the tick (runningUsage over the slots), decayed with the half-life; then the
// factors are recomputed over the projects with usage or shares. A project never charged has F = 1.
import { UsageBook } from "../core/fairshare/usage-book.js";
import { runningUsage } from "../core/fairshare/running-usage.js";
import {
  DEFAULT_BILLING_WEIGHTS,
  DEFAULT_MULTIFACTOR_WEIGHTS,
  type BillingWeights,
  type DefaultQuota,
  type MultifactorWeights,
  type ProjectQuota,
} from "../core/fairshare/types.js";
import type { WorkerSlot } from "../core/worker-slot.js";

const DAY_MS = 24 * 3600 * 1000;

/** The master's sharing settings, as the simulator takes them (defaults: the master's). */
export interface SharingOptions {
  /** fairShareHalfLifeMs (default 7 days). */
  halfLifeMs?: number;
  /** usageTickMs (default 5 s of simulated time). */
  usageTickMs?: number;
  /** billingCpu / billingMemoryGib / billingGpu. */
  billing?: BillingWeights;
  /** Multifactor weights (default the master's: DEFAULT_MULTIFACTOR_WEIGHTS with size 0). */
  weights?: MultifactorWeights;
  /** priorityMaxAgeMs (default 7 days). */
  maxAgeMs?: number;
  /** Fair-share shares per project (absent: 1). */
  shares?: ReadonlyMap<string, number>;
  /** Per-project quotas; none: every project unlimited (the master's default). */
  quotas?: readonly ProjectQuota[];
  /** The quota of a project without one; null or absent: unlimited. */
  defaultQuota?: DefaultQuota;
}

export const SIM_SHARING_DEFAULTS = {
  halfLifeMs: 7 * DAY_MS,
  usageTickMs: 5000,
  billing: DEFAULT_BILLING_WEIGHTS,
  // The master's priorityWeightSize defaults to 0 (src/config/master-settings.ts): FIFO within a project.
  weights: { ...DEFAULT_MULTIFACTOR_WEIGHTS, size: 0 } as MultifactorWeights,
  maxAgeMs: 7 * DAY_MS,
} as const;

/** The simulator's usage book: the core's UsageBook charged at usage ticks of simulated time. */
export class SimFairShare {
  readonly halfLifeMs: number;
  readonly usageTickMs: number;
  private readonly shares: ReadonlyMap<string, number>;
  private readonly book: UsageBook;
  private lastTickMs = 0;

  constructor(options: SharingOptions = {}) {
    this.halfLifeMs = options.halfLifeMs ?? SIM_SHARING_DEFAULTS.halfLifeMs;
    this.usageTickMs = options.usageTickMs ?? SIM_SHARING_DEFAULTS.usageTickMs;
    if (!(this.usageTickMs > 0) || !Number.isFinite(this.usageTickMs)) throw new RangeError(`usage tick must be > 0 ms, got ${this.usageTickMs}`);
    this.shares = options.shares ?? new Map();
    this.book = new UsageBook(this.halfLifeMs, options.billing ?? SIM_SHARING_DEFAULTS.billing, 0);
    this.book.setShares(this.shares);
  }

  /** F in (0, 1] as of the last tick; 1 for a project never charged and without shares. */
  factorOf(project: string): number {
    return this.book.factorOf(project);
  }

  /** Decayed usage (billing-unit seconds) as of the last tick. */
  usageOf(project: string): number {
    return this.book.usageOf(project);
  }

  sharesOf(project: string): number {
    return this.shares.get(project) ?? 1;
  }

  /**
   * Runs every tick due by `nowMs` (called before the events at `nowMs` are applied). What the
   * slots hold has not changed since the previous call, so every tick since then bills the same
   * rate; accrueUsage is exact however the interval is cut, so those ticks are charged as one
   * (idle hours of a trace cost one step, not thousands), which is what the ticks one by one
   * would leave.
   */
  advanceTo(nowMs: number, slots: Iterable<WorkerSlot>): void {
    const tickMs = Math.floor(nowMs / this.usageTickMs) * this.usageTickMs;
    if (!(tickMs > this.lastTickMs)) return;
    this.book.charge(tickMs, runningUsage(slots));
    this.lastTickMs = tickMs;
  }
}
