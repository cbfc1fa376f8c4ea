// Where projects' quotas and shares come from (issue 15). One interface, so that a Slurm-QOS or a
// Kubernetes ResourceQuota provider is a small addition: `current()` answers from memory (the
// dispatch pass reads it), `refresh()` re-reads the source, writes go through the provider or are
// refused by a read-only one.
import type { DefaultQuota } from "../../src/core/fairshare/types.js";
import type { QuotaRecord } from "../../src/store/store-types.js";

export interface QuotaSet {
  /** One per project that has a quota (and shares). */
  quotas: readonly QuotaRecord[];
  /** The quota of a project without one; null: unlimited. */
  defaultQuota: DefaultQuota;
}

export interface QuotaProvider {
  /** "local" (the database) or "file:<path>"; shown by `quota ls`. */
  readonly name: string;
  current(): QuotaSet;
  /** Re-reads the source now (a new leader takes office; another master edited). */
  refresh(): Promise<void>;
  /** Replaces a project's quota; FailedPreconditionError from a read-only provider. */
  set(quota: QuotaRecord): Promise<QuotaRecord>;
  /** False when the project had none; FailedPreconditionError from a read-only provider. */
  remove(project: string): Promise<boolean>;
  start(): Promise<void>;
  stop(): void;
  /** Why the source's current content is not in use (the last good quotas are); "" when it is. */
  readonly lastError: string;
}

/** Whether any project is limited at all: with no quota anywhere, the dispatcher skips quotas entirely. */
export function anyQuota(set: QuotaSet): boolean {
  return set.defaultQuota !== null || set.quotas.some((q) => Object.keys(q.nominal).length > 0);
}

/** Each project's fair-share shares (projects not listed have 1). */
export function sharesOf(set: QuotaSet): Map<string, number> {
  return new Map(set.quotas.map((q) => [q.project, q.shares]));
}
