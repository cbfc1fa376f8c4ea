// What each project holds right now, read off the workers' slots: the sum of its running
// attempts' allocations. Derived on demand from the one place that owns allocations
// (worker-slot.ts), so it can never drift from what the dispatcher and the lifecycle did.
import type { WorkerSlot } from "../worker-slot.js";
import { gpuModelsOf, taskDemand } from "./demand.js";

/** Project -> resource -> amount held by its running attempts. */
export function runningUsage(slots: Iterable<WorkerSlot>): Map<string, Record<string, number>> {
  const byProject = new Map<string, Record<string, number>>();
  for (const slot of slots) {
    for (const a of slot.allocations.values()) {
      const demand = taskDemand(
        { cpuMillis: a.cpuMillis, memoryMib: a.memoryMib, gpuCount: a.gpuIndexes.length, gpuModel: "", gpuMemoryMib: 0 },
        gpuModelsOf(slot.worker.capacity.gpus, a.gpuIndexes),
      );
      let sum = byProject.get(a.project);
      if (sum === undefined) byProject.set(a.project, (sum = {}));
      for (const [resource, amount] of Object.entries(demand)) sum[resource] = (sum[resource] ?? 0) + amount;
    }
  }
  return byProject;
}
