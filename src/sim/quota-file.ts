// Quotas and shares for a simulation from a quota file in the master's own format (the `file`
// quota provider, master/sharing/file-quotas.ts), so a GitOps-managed file can be tried offline
// before it is committed. The same parser and checks as the master: an invalid file throws.
import { parseQuotaFile } from "../../master/sharing/file-quotas.js";
import type { SharingOptions } from "./fair-share.js";

export function sharingFromQuotaFile(text: string): Pick<SharingOptions, "quotas" | "defaultQuota" | "shares"> {
  const set = parseQuotaFile(text, null, 0);
  return {
    quotas: set.quotas.map(({ project, nominal, borrowingLimit, lendingLimit }) => ({ project, nominal, borrowingLimit, lendingLimit })),
    defaultQuota: set.defaultQuota,
    shares: new Map(set.quotas.map((q) => [q.project, q.shares])),
  };
}
