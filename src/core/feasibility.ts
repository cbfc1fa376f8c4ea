// Feasibility filter (DESIGN §3): worker ONLINE (not SUSPECT/OFFLINE/DRAINING), all required tags,
// free cpu/memory/slots, enough free GPUs of the requested model and memory. GPUs are allocated by
// index and never shared.
import type { Gpu, ResourceRequest, Task, Worker } from "./types.js";
import type { WorkerSlot } from "./worker-slot.js";

// Lower-cased model names, memoised: the filter runs per (task, worker) on the dispatch hot path and
// model strings repeat. Bounded so a stream of odd names cannot grow it without end.
const lowerCache = new Map<string, string>();
function lower(s: string): string {
  let l = lowerCache.get(s);
  if (l === undefined) {
    if (lowerCache.size >= 4096) lowerCache.clear();
    l = s.toLowerCase();
    lowerCache.set(s, l);
  }
  return l;
}

function gpuMatches(gpu: Gpu, resources: ResourceRequest): boolean {
  if (resources.gpuModel && !lower(gpu.model).includes(lower(resources.gpuModel))) return false;
  return gpu.memoryMib >= resources.gpuMemoryMib;
}

// GPUs by ascending index with their lower-cased model names, memoised per capacity.gpus array.
interface GpuView {
  gpus: readonly Gpu[];
  models: string[];
}
const gpuViews = new WeakMap<readonly Gpu[], GpuView>();
function gpuView(all: readonly Gpu[]): GpuView {
  let view = gpuViews.get(all);
  if (view === undefined) {
    let inOrder = true;
    for (let i = 1; i < all.length; i++) if (all[i - 1].index > all[i].index) inOrder = false;
    const gpus = inOrder ? all : [...all].sort((a, b) => a.index - b.index);
    view = { gpus, models: gpus.map((g) => g.model.toLowerCase()) };
    gpuViews.set(all, view);
  }
  return view;
}

function hasAllTags(tagSet: ReadonlySet<string>, required: readonly string[]): boolean {
  for (let i = 0; i < required.length; i++) if (!tagSet.has(required[i])) return false;
  return true;
}

/**
 * GPU indexes to allocate on this worker for the task (lowest free matching indexes first), [] when
 * it asks for none, or null when not enough free matching GPUs remain.
 */
export function pickGpus(slot: WorkerSlot, resources: ResourceRequest): number[] | null {
  if (resources.gpuCount <= 0) return [];
  const all = slot.worker.capacity.gpus;
  if (resources.gpuCount > all.length - slot.allocatedGpus.size) return null;
  const { gpus, models } = gpuView(all);
  const model = resources.gpuModel ? lower(resources.gpuModel) : "";
  const picked: number[] = [];
  const allocated = slot.allocatedGpus;
  for (let i = 0; i < gpus.length; i++) {
    const gpu = gpus[i];
    if (model && !models[i].includes(model)) continue;
    if (gpu.memoryMib < resources.gpuMemoryMib) continue;
    if (allocated.size > 0 && allocated.has(gpu.index)) continue;
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
  if (couldEverFit(task, worker, null)) return null;
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

/** Whether the task would fit the worker when it is idle (neverFitsReason(...) === null, without building strings). */
export function couldEverFit(task: Task, worker: Worker, tagSet: ReadonlySet<string> | null): boolean {
  const r = task.spec.resources;
  const c = worker.capacity;
  for (const tag of task.spec.requiredTags) if (tagSet ? !tagSet.has(tag) : !worker.tags.includes(tag)) return false;
  if (r.cpuMillis > c.cpuMillis || r.memoryMib > c.memoryMib || c.maxTasks <= 0) return false;
  if (r.gpuCount > 0) {
    if (r.gpuCount > c.gpus.length) return false;
    let matching = 0;
    for (const g of c.gpus) if (gpuMatches(g, r)) matching++;
    if (matching < r.gpuCount) return false;
  }
  return true;
}
