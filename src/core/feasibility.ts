// Feasibility filter (DESIGN §3): worker ONLINE (not SUSPECT/OFFLINE/DRAINING), all required tags,
// free cpu/memory/slots, enough free GPUs of the requested model and memory. GPUs are allocated by
// index and never shared.
import type { Gpu, ResourceRequest, Task, Worker } from "./types.js";
import type { WorkerSlot } from "./worker-slot.js";

function gpuMatches(gpu: Gpu, resources: ResourceRequest): boolean {
  if (resources.gpuModel && !gpu.model.toLowerCase().includes(resources.gpuModel.toLowerCase())) return false;
  return gpu.memoryMib >= resources.gpuMemoryMib;
}

function hasAllTags(tagSet: ReadonlySet<string>, required: readonly string[]): boolean {
  for (const tag of required) if (!tagSet.has(tag)) return false;
  return true;
}

/**
 * GPU indexes to allocate on this worker for the task (lowest free matching indexes first), [] when
 * it asks for none, or null when not enough free matching GPUs remain.
 */
export function pickGpus(slot: WorkerSlot, resources: ResourceRequest): number[] | null {
  if (resources.gpuCount <= 0) return [];
  const picked: number[] = [];
  const gpus = [...slot.worker.capacity.gpus].sort((a, b) => a.index - b.index);
  for (const gpu of gpus) {
    if (slot.allocatedGpus.has(gpu.index) || !gpuMatches(gpu, resources)) continue;
    picked.push(gpu.index);
    if (picked.length === resources.gpuCount) return picked;
  }
  return null;
}

/** Whether the task fits the worker right now. Returns the GPUs it would get, or null. */
export function feasibleGpus(task: Task, slot: WorkerSlot): number[] | null {
  const { worker } = slot;
  const resources = task.spec.resources;
  if (worker.status !== "ONLINE") return null;
  if (slot.allocations.size >= worker.capacity.maxTasks) return null;
  if (slot.allocatedCpuMillis + resources.cpuMillis > worker.capacity.cpuMillis) return null;
  if (slot.allocatedMemoryMib + resources.memoryMib > worker.capacity.memoryMib) return null;
  if (!hasAllTags(slot.tagSet, task.spec.requiredTags)) return null;
  return pickGpus(slot, resources);
}

/**
 * Why the task could never run on this worker even when it is idle, or null when it could.
 * Used to tell "unschedulable" apart from "waiting for resources".
 */
export function neverFitsReason(task: Task, worker: Worker): string | null {
  const r = task.spec.resources;
  const c = worker.capacity;
  const missing = task.spec.requiredTags.filter((t) => !worker.tags.includes(t));
  if (missing.length > 0) return `lacks tags ${missing.join(",")}`;
  if (r.cpuMillis > c.cpuMillis) return `needs ${r.cpuMillis} cpu millis, has ${c.cpuMillis}`;
  if (r.memoryMib > c.memoryMib) return `needs ${r.memoryMib} MiB memory, has ${c.memoryMib}`;
  if (c.maxTasks <= 0) return "runs no tasks (max_tasks 0)";
  if (r.gpuCount > 0) {
    const matching = c.gpus.filter((g) => gpuMatches(g, r)).length;
    if (matching < r.gpuCount) return `needs ${r.gpuCount} GPUs${r.gpuModel ? ` (${r.gpuModel})` : ""}, has ${matching} matching`;
  }
  return null;
}
