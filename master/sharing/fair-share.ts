// Sharing in one term of office (issue 15): each project's decayed usage and fair-share factor,
// and the quota gate of each dispatch pass. The pure rules are in src/core/fairshare; this keeps
// the state a master holds between passes and writes usage to the database.
//
// Usage: every `usageTickMs` each project is charged for what it ran since the last tick at the
// billing rate of what it holds now (Slurm's TRES billing), decayed with the half-life, and the
// row is written (with the leader's other writes, fenced). A new leader starts from the rows,
// decayed to now; the time with no leader is not charged (nothing it ran is known for sure).
import { UsageBook } from "../../src/core/fairshare/usage-book.js";
import { QuotaLedger } from "../../src/core/fairshare/quota-ledger.js";
import { quotaGate } from "../../src/core/fairshare/quota-gate.js";
import { runningUsage } from "../../src/core/fairshare/running-usage.js";
import type { Amounts } from "../../src/core/fairshare/types.js";
import type { QuotaGate } from "../../src/core/dispatch-plan.js";
import type { Task } from "../../src/core/types.js";
import { taskDemand } from "../../src/core/fairshare/demand.js";
import type { Store, StoreWrite } from "../../src/store/store-types.js";
import type { Clock } from "../clock.js";
import type { SharingConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { MasterState } from "../state.js";
import { anyQuota, sharesOf, type QuotaProvider } from "./quota-provider.js";

export interface ProjectShareView {
  project: string;
  shares: number;
  sharesNorm: number;
  usage: number;
  usageNorm: number;
  factor: number;
  running: number;
  queued: number;
  used: Amounts;
}

export interface FairShareDeps {
  state: MasterState;
  store: Store;
  provider: QuotaProvider;
  clock: Clock;
  log: Logger;
  config: SharingConfig;
}

export class FairShare {
  private readonly book: UsageBook;
  private refusalLedger: QuotaLedger | null | undefined;
  private refusalLedgerReset = false;

  constructor(private readonly deps: FairShareDeps) {
    this.book = new UsageBook(deps.config.halfLifeMs, deps.config.billing, deps.clock.now());
  }

  /** Usage as last written (a previous term's), decayed to now. */
  async load(): Promise<void> {
    this.book.load(await this.deps.store.loadUsage(), this.deps.clock.now());
    this.book.setShares(sharesOf(this.deps.provider.current()));
  }

  /** The project's fair-share factor F in (0, 1] as of the last tick (1 for a project never seen). */
  factorOf(project: string): number {
    return this.book.factorOf(project);
  }

  /** Charge usage since the last tick, recompute the factors (with the shares as they are now), write the usage rows. */
  async tick(): Promise<void> {
    this.book.setShares(sharesOf(this.deps.provider.current()));
    const charged = this.book.charge(this.deps.clock.now(), runningUsage(this.deps.state.slots.values()));
    await this.deps.store.write(charged.map((usage): StoreWrite => ({ kind: "upsert_project_usage", usage })));
  }

  /** The quota gate of a dispatch pass over what every project runs now; undefined when no project is limited. */
  gate(): QuotaGate | undefined {
    const ledger = this.ledger();
    return ledger ? quotaGate(ledger) : undefined;
  }

  /** Why the task's project may not start it now, or null (for `taskgrid get` on a queued task). */
  refusal(task: Task): string | null {
    // One ledger per turn of the event loop: ListTasks asks this for every queued task it returns.
    this.refusalLedger ??= this.ledger();
    if (!this.refusalLedgerReset) {
      this.refusalLedgerReset = true;
      setImmediate(() => {
        this.refusalLedger = undefined;
        this.refusalLedgerReset = false;
      });
    }
    const ledger = this.refusalLedger;
    if (!ledger) return null;
    const verdict = ledger.check(task.spec.project, taskDemand(task.spec.resources, []));
    return verdict.ok ? null : verdict.reason;
  }

  /** What each project runs now, per resource. */
  used(): Map<string, Record<string, number>> {
    return runningUsage(this.deps.state.slots.values());
  }

  /** `taskgrid shares`: every project with shares, usage, running or queued work. */
  view(): ProjectShareView[] {
    const set = this.deps.provider.current();
    const shares = sharesOf(set);
    const used = this.used();
    const queued = new Map<string, number>();
    for (const task of this.deps.state.queue.inOrder()) queued.set(task.spec.project, (queued.get(task.spec.project) ?? 0) + 1);
    const projects = [...new Set([...shares.keys(), ...this.book.projects(), ...used.keys(), ...queued.keys()])].sort();
    const totalShares = projects.reduce((sum, p) => sum + (shares.get(p) ?? 1), 0);
    const totalUsage = projects.reduce((sum, p) => sum + this.book.usageOf(p), 0);
    return projects.map((project) => {
      const s = shares.get(project) ?? 1;
      const u = this.book.usageOf(project);
      return {
        project,
        shares: s,
        sharesNorm: totalShares > 0 ? s / totalShares : 0,
        usage: u,
        usageNorm: totalUsage > 0 ? u / totalUsage : 0,
        factor: this.factorOf(project),
        running: used.get(project)?.tasks ?? 0,
        queued: queued.get(project) ?? 0,
        used: used.get(project) ?? {},
      };
    });
  }

  private ledger(): QuotaLedger | null {
    const set = this.deps.provider.current();
    if (!anyQuota(set)) return null;
    const ledger = new QuotaLedger(set.quotas, set.defaultQuota);
    for (const [project, amounts] of this.used()) ledger.add(project, amounts);
    return ledger;
  }
}
