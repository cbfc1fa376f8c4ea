// Quotas and fair share (issue 15) between the API and the domain.
import { InvalidArgumentError } from "../../src/core/errors.js";
import { validateQuota } from "../../src/core/fairshare/demand.js";
import type { DefaultQuota } from "../../src/core/fairshare/types.js";
import type { ProjectQuota as ProtoQuota, ProjectShare } from "../../src/gen/taskgrid/v1/admin_service.js";
import type { QuotaRecord } from "../../src/store/store-types.js";
import type { ProjectShareView } from "../sharing/fair-share.js";

/** A SetQuota request's quota, checked (every message names the field under "quota"). */
export function quotaFromProto(q: ProtoQuota | undefined, actor: string, nowMs: number): QuotaRecord {
  if (!q) throw new InvalidArgumentError("quota", "is required");
  const quota = validateQuota({ project: q.project, nominal: q.nominal, borrowingLimit: q.borrowingLimit, lendingLimit: q.lendingLimit }, "quota");
  // Unset (0) means the default of 1 share; a set value must be a sane positive number.
  const shares = q.shares === 0 ? 1 : q.shares;
  if (!Number.isFinite(shares) || shares <= 0 || shares > 1e9) throw new InvalidArgumentError("quota.shares", "must be > 0 and <= 1e9 (0 or unset: 1)");
  return { ...quota, shares, updatedAtMs: nowMs, updatedBy: actor };
}

export function quotaToProto(q: QuotaRecord): ProtoQuota {
  return {
    project: q.project,
    nominal: { ...q.nominal },
    borrowingLimit: { ...q.borrowingLimit },
    lendingLimit: { ...q.lendingLimit },
    shares: q.shares,
    updatedAt: new Date(q.updatedAtMs),
    updatedBy: q.updatedBy,
  };
}

export function defaultQuotaToProto(q: DefaultQuota): ProtoQuota | undefined {
  if (q === null) return undefined;
  return {
    project: "",
    nominal: { ...q.nominal },
    borrowingLimit: { ...q.borrowingLimit },
    lendingLimit: { ...q.lendingLimit },
    shares: 1,
    updatedAt: undefined,
    updatedBy: "",
  };
}

export function shareToProto(v: ProjectShareView): ProjectShare {
  return {
    project: v.project,
    shares: v.shares,
    sharesNorm: v.sharesNorm,
    usage: v.usage,
    usageNorm: v.usageNorm,
    fairShareFactor: v.factor,
    running: v.running,
    queued: v.queued,
    used: { ...v.used },
  };
}
