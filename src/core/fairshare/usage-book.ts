// Each project's decayed usage and fair-share factor, as the master and the simulator keep them
// between dispatch passes (issue 15). At each charge every project pays, for the time since the
// previous charge, the billing rate of what it holds at this one (runningUsage over the slots),
// decayed with the half-life (accrueUsage, exact however the time is cut); then the factors are
// recomputed over the projects with usage or shares. A project never charged has F = 1.
import { accrueUsage, billingRate, decayUsage } from "./decay.js";
import { fairShareFactors } from "./factor.js";
import type { Amounts, BillingWeights, ProjectUsage } from "./types.js";

export class UsageBook {
  private readonly usage = new Map<string, number>();
  private factors = new Map<string, number>();
  private shares: ReadonlyMap<string, number> = new Map();
  private chargedAtMs: number;

  constructor(
    private readonly halfLifeMs: number,
    private readonly billing: BillingWeights,
    startMs: number,
  ) {
    this.chargedAtMs = startMs;
  }

  /** Usage as stored (rows of an earlier term), decayed to `nowMs`; the time in between is not charged. */
  load(rows: readonly ProjectUsage[], nowMs: number): void {
    for (const row of rows) this.usage.set(row.project, decayUsage(row.usage, row.atMs, nowMs, this.halfLifeMs));
    this.chargedAtMs = nowMs;
    this.recompute();
  }

  /** New shares (absent: 1 each); the factors follow at once. */
  setShares(shares: ReadonlyMap<string, number>): void {
    this.shares = shares;
    this.recompute();
  }

  /** Charges every project up to `nowMs` at the rate of what it holds now; returns each project's usage as of then. */
  charge(nowMs: number, holding: ReadonlyMap<string, Amounts>): ProjectUsage[] {
    const charged: ProjectUsage[] = [];
    if (nowMs > this.chargedAtMs) {
      for (const project of new Set([...this.usage.keys(), ...holding.keys()])) {
        const held = holding.get(project);
        const rate = held ? billingRate(held, this.billing) : 0;
        const usage = accrueUsage(this.usage.get(project) ?? 0, this.chargedAtMs, nowMs, rate, this.halfLifeMs);
        this.usage.set(project, usage);
        charged.push({ project, usage, atMs: nowMs });
      }
      this.chargedAtMs = nowMs;
    }
    this.recompute();
    return charged;
  }

  /** F in (0, 1] as of the last charge; 1 for a project never charged and without shares. */
  factorOf(project: string): number {
    return this.factors.get(project) ?? 1;
  }

  /** Decayed usage (billing-unit seconds) as of the last charge. */
  usageOf(project: string): number {
    return this.usage.get(project) ?? 0;
  }

  /** Every project with usage. */
  projects(): string[] {
    return [...this.usage.keys()];
  }

  private recompute(): void {
    this.factors = fairShareFactors(new Set([...this.usage.keys(), ...this.shares.keys()]), this.usage, this.shares);
  }
}
