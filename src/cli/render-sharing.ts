// Human renderings of quotas and fair share (issue 15): the `quota ls` table, a stored quota
// (`quota set`), the `shares` table (like Slurm's sshare) and the multifactor priority line of
// `get`. Pure. Units: cpu in cores, memory in GiB (shown with "Gi"), gpu and tasks as counts.
import { amountOn, GPU_MODEL_PREFIX, RESOURCE_KEYS } from "../core/fairshare/demand.js";
import { MASTER_SETTINGS } from "../config/master-settings.js";
import type { GetSharesResponse, ListQuotasResponse, ProjectQuota } from "../gen/taskgrid/v1/admin_service.js";
import type { PriorityBreakdown } from "../gen/taskgrid/v1/task.js";
import type { MultifactorWeights } from "../core/fairshare/types.js";
import { formatDuration, formatFields, formatNumber, formatTable, formatTime } from "./format.js";

/** 1234567.891 -> "1,234,567.9" (digits: most decimals kept; trailing zeros dropped). */
export function formatGrouped(n: number, digits = 0): string {
  const text = String(Number(n.toFixed(digits)));
  // Exponent forms (>= 1e21) are left alone: no fleet gets there.
  if (/e/i.test(text)) return text;
  const [whole, fraction] = text.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/**
 * Decayed usage in billing-unit seconds: "0", "0.42", "37.5", "3,600", "1.2M", "4.5G". Small
 * amounts keep two decimals so that usage moving on a fresh cluster shows.
 */
export function formatUsage(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return "0";
  if (Math.abs(n) < 0.01) return "<0.01";
  if (Math.abs(n) < 100) return formatNumber(n, 2);
  if (Math.abs(n) < 1e6) return formatGrouped(n, 0);
  for (const [size, unit] of [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
  ] as const) {
    if (Math.abs(n) >= size) return `${formatNumber(n / size, 1)}${unit}`;
  }
  return formatGrouped(n, 0);
}

/** One amount of a resource: memory with its unit ("512Gi"), the rest as plain numbers ("64", "0.5"). */
export function formatAmount(resource: string, n: number): string {
  const text = formatNumber(n, 2);
  return resource === "memory" ? `${text}Gi` : text;
}

/** cpu, memory, gpu, gpu:<model> (by name), tasks, then anything else by name. */
function resourceRank(key: string): [number, string] {
  if (key === "cpu") return [0, ""];
  if (key === "memory") return [1, ""];
  if (key === "gpu") return [2, ""];
  if (key.startsWith(GPU_MODEL_PREFIX)) return [3, key];
  if (key === "tasks") return [4, ""];
  return [5, key];
}

export function sortResources(keys: Iterable<string>): string[] {
  return [...new Set(keys)].sort((a, b) => {
    const [ra, na] = resourceRank(a);
    const [rb, nb] = resourceRank(b);
    return ra - rb || na.localeCompare(nb);
  });
}

/** "cpu=64, memory=512Gi, gpu=8, gpu:h100=8" (the RES=AMOUNT form `quota set` takes); "" when empty. */
export function formatAmounts(amounts: Record<string, number>): string {
  return sortResources(Object.keys(amounts))
    .map((k) => `${k}=${formatAmount(k, amounts[k])}`)
    .join(", ");
}

/** A stored quota, as `quota set` prints it. */
export function formatQuota(q: ProjectQuota): string {
  const borrow = formatAmounts(q.borrowingLimit);
  const lend = formatAmounts(q.lendingLimit);
  const hasNominal = Object.keys(q.nominal).length > 0;
  return formatFields([
    ["Project", q.project],
    ["Nominal", hasNominal ? `${formatAmounts(q.nominal)} (resources not listed: no limit)` : "none (no resource is limited)"],
    ["Borrow", hasNominal ? (borrow ? `${borrow} (resources not listed: no limit)` : "no limit") : undefined],
    ["Lend", hasNominal ? (lend ? `${lend} (resources not listed: all of their nominal)` : "all of its nominal") : undefined],
    ["Shares", formatNumber(q.shares, 3)],
    ["Updated", q.updatedAt ? `${formatTime(q.updatedAt)}${q.updatedBy ? ` by ${q.updatedBy}` : ""}` : undefined],
  ]);
}

/** "default: unlimited" or "default: gpu=2, tasks=100; borrow gpu=1; lend ..." (a project without a quota of its own). */
export function formatDefaultQuota(q: ProjectQuota | undefined): string {
  if (!q || Object.keys(q.nominal).length === 0) return "default: unlimited";
  const parts = [formatAmounts(q.nominal)];
  if (Object.keys(q.borrowingLimit).length > 0) parts.push(`borrow ${formatAmounts(q.borrowingLimit)}`);
  if (Object.keys(q.lendingLimit).length > 0) parts.push(`lend ${formatAmounts(q.lendingLimit)}`);
  return `default: ${parts.join("; ")} (each project without a quota of its own)`;
}

/** The plain resources worth a row even without a limit: what the project runs. */
const PLAIN_RESOURCES: readonly string[] = RESOURCE_KEYS;

/**
 * `quota ls`: one row per project and resource (every resource of its quota, plus the plain ones
 * it uses without a limit), "-" for no limit; then the default quota and where quotas come from.
 */
export function formatQuotaTable(res: ListQuotasResponse): string {
  const rows: string[][] = [];
  const quotas = [...res.quotas].sort((a, b) => (a.quota?.project ?? "").localeCompare(b.quota?.project ?? ""));
  for (const { quota, used, isDefault } of quotas) {
    if (!quota) continue;
    const usedPlain = PLAIN_RESOURCES.filter((k) => (used[k] ?? 0) > 0);
    const resources = sortResources([...Object.keys(quota.nominal), ...usedPlain]);
    const shares = formatNumber(quota.shares, 3);
    // A project without a quota of its own runs under the default: marked, so it is not mistaken for one.
    const project = isDefault ? `${quota.project} (default)` : quota.project;
    if (resources.length === 0) {
      rows.push([project, "-", "-", "-", "-", "-", shares]);
      continue;
    }
    for (const r of resources) {
      const limit = (m: Record<string, number>) => (m[r] === undefined ? "-" : formatAmount(r, m[r]));
      rows.push([project, r, formatAmount(r, amountOn(used, r)), limit(quota.nominal), limit(quota.borrowingLimit), limit(quota.lendingLimit), shares]);
    }
  }
  const table =
    rows.length === 0 ? "no project has a quota\n" : formatTable(["PROJECT", "RESOURCE", "USED", "NOMINAL", "BORROW LIMIT", "LEND LIMIT", "SHARES"], rows);
  const readOnly = res.provider.startsWith("file:") ? " (read only here: edit the file)" : "";
  const error = res.providerError ? `quota file error: ${res.providerError}\n` : "";
  return `${table}${formatDefaultQuota(res.defaultQuota)}\nquotas from: ${res.provider || "?"}${readOnly}\n${error}`;
}

/** `shares`: like sshare, one row per project, then the half-life and the ordering in use. */
export function formatSharesTable(res: GetSharesResponse): string {
  const rows = res.projects.map((p) => [
    p.project,
    formatNumber(p.shares, 3),
    p.sharesNorm.toFixed(3),
    formatUsage(p.usage),
    p.usageNorm.toFixed(3),
    p.fairShareFactor.toFixed(3),
    String(p.running),
    String(p.queued),
  ]);
  const table = formatTable(["PROJECT", "SHARES", "NORM SHARES", "USAGE", "NORM USAGE", "FAIRSHARE", "RUNNING", "QUEUED"], rows);
  const halfLife = res.halfLifeMs > 0 ? formatDuration(res.halfLifeMs) : "-";
  const note = res.orderingPolicy && res.orderingPolicy !== "multifactor" ? " (the fair-share factor orders tasks only under the multifactor ordering)" : "";
  return `${table}half-life: ${halfLife}, ordering: ${res.orderingPolicy || "?"}${note}\n`;
}

/** The master's default multifactor weights (its settings' defaults). */
export const DEFAULT_PRIORITY_WEIGHTS: MultifactorWeights = {
  queueClass: MASTER_SETTINGS.priorityWeightClass.default,
  priority: MASTER_SETTINGS.priorityWeightPriority.default,
  fairShare: MASTER_SETTINGS.priorityWeightFairShare.default,
  age: MASTER_SETTINGS.priorityWeightAge.default,
  size: MASTER_SETTINGS.priorityWeightSize.default,
};

const FACTORS: ReadonlyArray<readonly [string, keyof MultifactorWeights]> = [
  ["class", "queueClass"],
  ["priority", "priority"],
  ["fair share", "fairShare"],
  ["age", "age"],
  ["size", "size"],
];

/** Whether `weights` give the breakdown's total from its factors (so they are the ones the master used). */
export function weightsExplain(b: PriorityBreakdown, weights: MultifactorWeights): boolean {
  const sum = FACTORS.reduce((s, [, k]) => s + weights[k] * b[k], 0);
  return Math.abs(sum - b.total) <= 1e-6 * Math.max(1, Math.abs(b.total));
}

/**
 * "10,545.1 = class 0.5x10,000 + priority 0.5x1,000 + fair share 0.451x100 + age 0.01x10 + size 0x0":
 * each factor (0..1) times the master's weight for it. The breakdown carries the weights; one from
 * a master that predates them (all zero) is explained with `weights` when they give its total,
 * else its factors are listed alone.
 */
export function formatPriority(b: PriorityBreakdown, weights: MultifactorWeights = DEFAULT_PRIORITY_WEIGHTS): string {
  const total = formatGrouped(b.total, 1);
  const sent: MultifactorWeights = {
    queueClass: b.weightQueueClass,
    priority: b.weightPriority,
    fairShare: b.weightFairShare,
    age: b.weightAge,
    size: b.weightSize,
  };
  const used = weightsExplain(b, sent) && FACTORS.some(([, k]) => sent[k] !== 0) ? sent : weightsExplain(b, weights) ? weights : null;
  if (used) return `${total} = ${FACTORS.map(([label, k]) => `${label} ${formatNumber(b[k], 3)}x${formatGrouped(used[k], 3)}`).join(" + ")}`;
  return `${total}, the weighted sum of ${FACTORS.map(([label, k]) => `${label} ${formatNumber(b[k], 3)}`).join(", ")} (weights as configured on the master)`;
}
