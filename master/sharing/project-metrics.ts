// The projects' series of /metrics (issue 15): what each runs now, each quota limit, each
// fair-share factor. Usage and factors are the leader's (a standby exports the quotas only).
import type { ProjectMetrics } from "../../src/telemetry/metric-sources.js";
import type { FairShare } from "./fair-share.js";
import type { QuotaSet } from "./quota-provider.js";

const KINDS = [
  ["nominal", "nominal"],
  ["borrowing_limit", "borrowingLimit"],
  ["lending_limit", "lendingLimit"],
] as const;

export function projectMetrics(set: QuotaSet, sharing: FairShare | null): ProjectMetrics {
  const quota: ProjectMetrics["quota"] = [];
  for (const q of set.quotas) {
    for (const [kind, field] of KINDS) for (const [resource, value] of Object.entries(q[field])) quota.push({ project: q.project, resource, kind, value });
  }
  const usage: ProjectMetrics["usage"] = [];
  const fairShare: ProjectMetrics["fairShare"] = [];
  // One view per scrape: it reads what runs and the queue once, for both series.
  for (const view of sharing?.view() ?? []) {
    for (const [resource, value] of Object.entries(view.used)) usage.push({ project: view.project, resource, value });
    fairShare.push({ project: view.project, value: view.factor });
  }
  return { usage, quota, fairShare };
}
