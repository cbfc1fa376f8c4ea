// The scheduler's view of one worker: what it has (capacity, tags, status, telemetry) and what is
// allocated to attempts placed on it. Allocation is tracked per attempt so that release on finish,
// cancel or loss returns exactly what was taken.
import type { ResourceRequest, Worker } from "./types.js";

export interface Allocation {
  attemptId: string;
  /** The task's project: what its project uses now is the sum of its allocations (quotas, fair share). */
  project: string;
  cpuMillis: number;
  memoryMib: number;
  gpuIndexes: number[];
}

export interface WorkerSlot {
  worker: Worker;
  /** Tags as a set, for O(1) required-tag checks. */
  tagSet: Set<string>;
  allocations: Map<string, Allocation>;
  allocatedCpuMillis: number;
  allocatedMemoryMib: number;
  allocatedGpus: Set<number>;
  /** Bumped by every allocate and release: lets derived views (running usage) cache per slot. */
  version: number;
}

export function newWorkerSlot(worker: Worker): WorkerSlot {
  return {
    worker,
    tagSet: new Set(worker.tags),
    allocations: new Map(),
    allocatedCpuMillis: 0,
    allocatedMemoryMib: 0,
    allocatedGpus: new Set(),
    version: 0,
  };
}

export function runningCount(slot: WorkerSlot): number {
  return slot.allocations.size;
}

export function hasFreeSlot(slot: WorkerSlot): boolean {
  return slot.worker.status === "ONLINE" && slot.allocations.size < slot.worker.capacity.maxTasks;
}

export function allocate(slot: WorkerSlot, attemptId: string, resources: ResourceRequest, gpuIndexes: number[], project = ""): Allocation {
  const allocation: Allocation = {
    attemptId,
    project,
    cpuMillis: resources.cpuMillis,
    memoryMib: resources.memoryMib,
    gpuIndexes,
  };
  slot.allocations.set(attemptId, allocation);
  slot.version++;
  slot.allocatedCpuMillis += allocation.cpuMillis;
  slot.allocatedMemoryMib += allocation.memoryMib;
  for (const index of gpuIndexes) slot.allocatedGpus.add(index);
  return allocation;
}

/** Returns false when the attempt held nothing on this worker (already released). */
export function release(slot: WorkerSlot, attemptId: string): boolean {
  const allocation = slot.allocations.get(attemptId);
  if (!allocation) return false;
  slot.allocations.delete(attemptId);
  slot.version++;
  slot.allocatedCpuMillis -= allocation.cpuMillis;
  slot.allocatedMemoryMib -= allocation.memoryMib;
  for (const index of allocation.gpuIndexes) slot.allocatedGpus.delete(index);
  return true;
}
