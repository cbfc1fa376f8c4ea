// What each project holds right now, read off the workers' slots: the sum of its running
// attempts' allocations. Derived on demand from the one place that owns allocations
// (worker-slot.ts), so it can never drift from what the dispatcher and the lifecycle did.
import type { WorkerSlot } from "../worker-slot.js";
import { gpuModelsOf, taskDemand } from "./demand.js";

type ByProject = Map<string, Record<string, number>>;

/**
 * Each slot's own sums, kept until its allocations change (slot.version): a dispatch pass with
 * quotas asks for this every time, and most slots have not changed since the last pass.
 */
const perSlot = new WeakMap<WorkerSlot, { version: number; byProject: ByProject }>();

function slotUsage(slot: WorkerSlot): ByProject {
  const cached = perSlot.get(slot);
  if (cached !== undefined && cached.version === slot.version) return cached.byProject;
  const byProject: ByProject = new Map();
  for (const a of slot.allocations.values()) {
    const demand = taskDemand(
      { cpuMillis: a.cpuMillis, memoryMib: a.memoryMib, gpuCount: a.gpuIndexes.length, gpuModel: "", gpuMemoryMib: 0 },
      gpuModelsOf(slot.worker.capacity.gpus, a.gpuIndexes),
    );
    addInto(byProject, a.project, demand);
  }
  perSlot.set(slot, { version: slot.version, byProject });
  return byProject;
}

function addInto(byProject: ByProject, project: string, amounts: Readonly<Record<string, number>>): void {
  let sum = byProject.get(project);
  if (sum === undefined) byProject.set(project, (sum = {}));
  for (const resource in amounts) sum[resource] = (sum[resource] ?? 0) + amounts[resource];
}

/** Project -> resource -> amount held by its running attempts (a fresh map: callers may keep it). */
export function runningUsage(slots: Iterable<WorkerSlot>): Map<string, Record<string, number>> {
  const byProject: ByProject = new Map();
  for (const slot of slots) {
    if (slot.allocations.size === 0) continue;
    for (const [project, amounts] of slotUsage(slot)) addInto(byProject, project, amounts);
  }
  return byProject;
}
