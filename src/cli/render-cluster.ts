// Human renderings of the cluster: the `workers` table and the `info` scheduler report.
import { type GetSchedulerInfoResponse, type Leadership, MasterRole, type Worker } from "../gen/taskgrid/v1/admin_service.js";
import { formatAge, formatCores, formatFields, formatMib, formatNumber, formatTable, formatTime, priorityName, queueName, workerStatusName } from "./format.js";

export function formatWorkerTable(workers: readonly Worker[], now: Date): string {
  const rows = workers.map((w) => {
    const cap = w.capacity;
    const gpusTotal = cap?.gpus.length ?? 0;
    return [
      w.id,
      workerStatusName(w.status),
      w.tags.join(",") || "-",
      `${formatCores(w.allocatedCpuMillis)}/${formatCores(cap?.cpuMillis ?? 0)}`,
      `${formatMib(w.allocatedMemoryMib)}/${formatMib(cap?.memoryMib ?? 0)}`,
      gpusTotal > 0 ? `${w.allocatedGpuIndexes.length}/${gpusTotal}` : "-",
      `${w.runningAttempts}/${cap?.maxTasks ?? 0}`,
      w.lastSeenAt ? `${formatAge(w.lastSeenAt, now)} ago` : "-",
    ];
  });
  return formatTable(["ID", "STATUS", "TAGS", "CPU", "MEM", "GPUS", "RUNNING", "LAST SEEN"], rows);
}

export function formatWorkerDetail(w: Worker, now: Date): string {
  const t = w.telemetry;
  let out = formatFields([
    ["Worker", w.id],
    ["Status", workerStatusName(w.status)],
    ["Host", w.hostname],
    ["Tags", w.tags.join(", ")],
    ["Agent", w.agentVersion],
    ["CPU", `${formatCores(w.allocatedCpuMillis)} of ${formatCores(w.capacity?.cpuMillis ?? 0)} cores allocated`],
    ["Memory", `${formatMib(w.allocatedMemoryMib)} of ${formatMib(w.capacity?.memoryMib ?? 0)} allocated`],
    ["Running", `${w.runningAttempts} of ${w.capacity?.maxTasks ?? 0} slots`],
    [
      "Load",
      t
        ? `cpu ${formatNumber(t.cpuLoad, 2)}, io ${formatNumber(t.ioPressure, 2)}, mem ${formatMib(t.memoryUsedMib)}/${formatMib(t.memoryTotalMib)}`
        : undefined,
    ],
    ["Probe errors", t?.probeErrors.join("; ")],
    ["Registered", w.registeredAt ? formatTime(w.registeredAt) : undefined],
    ["Last seen", w.lastSeenAt ? `${formatTime(w.lastSeenAt)} (${formatAge(w.lastSeenAt, now)} ago)` : undefined],
  ]);
  const gpus = w.capacity?.gpus ?? [];
  if (gpus.length > 0) {
    const used = new Set(w.allocatedGpuIndexes);
    const util = new Map((t?.gpus ?? []).map((g) => [g.index, g]));
    const rows = gpus.map((g) => [
      String(g.index),
      g.model,
      formatMib(g.memoryMib),
      used.has(g.index) ? "yes" : "no",
      util.has(g.index) ? `${formatNumber(util.get(g.index)!.utilizationPercent, 0)}%` : "-",
    ]);
    out += `GPUs:\n${formatTable(
      ["  INDEX", "MODEL", "MEMORY", "ALLOCATED", "UTIL"],
      rows.map((r) => [`  ${r[0]}`, ...r.slice(1)]),
    )}`;
  }
  return out;
}

function counts(map: Record<string, number>): string {
  const entries = Object.entries(map).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? "none" : entries.map(([k, v]) => `${k}=${v}`).join(", ");
}

/** "leader (epoch 4, since 14:05:02, 3m ago)" or "standby (epoch 4)"; terms and failovers seen by this master. */
function leadershipText(l: Leadership | undefined, now: Date): string | undefined {
  if (!l || l.role === MasterRole.MASTER_ROLE_UNSPECIFIED) return undefined;
  const self = `${l.masterAddress || "?"} (id ${l.masterId || "?"})`;
  const terms = `terms won ${l.termsWon}, lost ${l.termsLost}`;
  if (l.role === MasterRole.MASTER_ROLE_LEADER) {
    const since = l.leaderSince ? `, since ${formatTime(l.leaderSince)}, ${formatAge(l.leaderSince, now)} ago` : "";
    return `${self}: LEADER in epoch ${l.epoch}${since}; ${terms}`;
  }
  return `${self}: STANDBY (reads only; writes go to the leader); ${terms}`;
}

function leaderText(l: Leadership | undefined): string | undefined {
  if (!l || l.role !== MasterRole.MASTER_ROLE_STANDBY) return undefined;
  return l.leaderAddress ? `${l.leaderAddress} (id ${l.leaderId}, epoch ${l.epoch})` : `none known right now (last epoch ${l.epoch})`;
}

/** "3 (fair share over a 7d half-life; quotas from local)", or none when the master did not say. */
function projectsText(info: GetSchedulerInfoResponse): string | undefined {
  if (!info.quotaProvider) return undefined;
  const days = info.fairShareHalfLifeMs / 86_400_000;
  const halfLife = Number.isInteger(days) ? `${days}d` : `${formatNumber(info.fairShareHalfLifeMs / 3_600_000, 1)}h`;
  return `${info.projectShares.length} (fair share over a ${halfLife} half-life; quotas from ${info.quotaProvider}; see taskgrid shares)`;
}

export function formatSchedulerInfo(info: GetSchedulerInfoResponse, now: Date): string {
  const w = info.weights;
  const decisions = Object.values(info.decisionsByStrategy).reduce((a, b) => a + b, 0);
  const fallbacks = Object.values(info.fallbacksByReason).reduce((a, b) => a + b, 0);
  const rate = decisions > 0 ? `${formatNumber((fallbacks / decisions) * 100, 1)}%` : "-";
  const meta = Object.entries(info.weightsMetadata)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  let out = formatFields([
    ["Master", leadershipText(info.leadership, now)],
    ["Leader", leaderText(info.leadership)],
    ["Ordering", info.orderingPolicy],
    ["Projects", projectsText(info)],
    ["Placement", info.placementStrategy],
    [
      "Weights",
      w
        ? `D=${formatNumber(w.wDeadline)} A=${formatNumber(w.wAffinity)} L=${formatNumber(w.wLoad)} I=${formatNumber(w.wIo)} S=${formatNumber(w.wSuccess)} P=${formatNumber(w.wPenalty)}`
        : "none",
    ],
    ["Weights from", info.weightsSource || info.weightsPath],
    ["Version", info.weightsVersion],
    ["Loaded at", info.weightsLoadedAt ? `${formatTime(info.weightsLoadedAt)} (${formatAge(info.weightsLoadedAt, now)} ago)` : undefined],
    ["Metadata", meta],
    ["Reload error", info.weightsError],
    ["Reloads", counts(info.weightsReloads)],
    ["Deadline misses", String(info.deadlineMisses)],
    ["Decisions", counts(info.decisionsByStrategy)],
    ["Fallbacks", counts(info.fallbacksByReason)],
    ["Fallback rate", rate],
    ["Workers", info.workersByStatus.length === 0 ? "none" : info.workersByStatus.map((c) => `${workerStatusName(c.status)}=${c.count}`).join(", ")],
  ]);
  const queued = info.queueLengths.filter((q) => q.length > 0);
  out +=
    queued.length === 0
      ? "Queued:        none\n"
      : `Queued:\n${formatTable(
          ["  QUEUE", "PRIORITY", "TASKS"],
          queued.map((q) => [`  ${queueName(q.queueClass)}`, priorityName(q.priority), String(q.length)]),
        )}`;
  return out;
}
