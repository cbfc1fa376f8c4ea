// The `local` quota provider: the project_quotas table, edited with `taskgrid quota set/rm`
// (SetQuota/DeleteQuota on the leader). Kept in memory; re-read on every edit, when a term starts,
// and every `refreshMs` (an edit made through another master, or in the database by hand).
import type { DefaultQuota } from "../../src/core/fairshare/types.js";
import type { QuotaRecord, QuotaStore } from "../../src/store/store-types.js";
import type { Logger } from "../logger.js";
import type { QuotaProvider, QuotaSet } from "./quota-provider.js";

export class LocalQuotas implements QuotaProvider {
  readonly name = "local";
  /** The database is the source: a failed read leaves the last quotas and is retried (logged). */
  readonly lastError = "";
  private quotaSet: QuotaSet;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: QuotaStore,
    defaultQuota: DefaultQuota,
    private readonly log: Logger,
    private readonly refreshMs = 10_000,
  ) {
    this.quotaSet = { quotas: [], defaultQuota };
  }

  current(): QuotaSet {
    return this.quotaSet;
  }

  async refresh(): Promise<void> {
    this.quotaSet = { ...this.quotaSet, quotas: await this.store.list() };
  }

  async set(quota: QuotaRecord): Promise<QuotaRecord> {
    const stored = await this.store.upsert(quota);
    await this.refresh();
    return stored;
  }

  async remove(project: string): Promise<boolean> {
    const removed = await this.store.remove(project);
    await this.refresh();
    return removed;
  }

  async start(): Promise<void> {
    // A database that is down at start leaves the quotas empty until the next refresh succeeds.
    await this.refresh().catch((err) => this.log.warn("quotas: could not read them yet", { error: String(err) }));
    this.timer = setInterval(() => {
      this.refresh().catch((err) => this.log.warn("quotas: could not re-read them", { error: String(err) }));
    }, this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
