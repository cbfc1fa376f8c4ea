// Turns workload specs into the core's domain objects (Worker, Task, WorkerSlot).
import type { Task, TaskSpec, Worker } from "../core/types.js";
import { newWorkerSlot, type WorkerSlot } from "../core/worker-slot.js";
import type { SimTaskSpec, SimWorkerSpec } from "./types.js";

export function buildSlot(w: SimWorkerSpec): WorkerSlot {
  const worker: Worker = {
    id: w.id,
    hostname: w.id,
    tags: w.tags,
    capacity: { cpuMillis: w.cpuMillis, memoryMib: w.memoryMib, maxTasks: w.maxTasks, gpus: w.gpus },
    status: "ONLINE",
    agentVersion: "sim",
    registeredAtMs: 0,
    lastSeenAtMs: 0,
    telemetry: {
      sampledAtMs: 0,
      cpuLoad: 0,
      memoryUsedMib: 0,
      memoryTotalMib: w.memoryMib,
      ioPressure: 0,
      runningAttempts: 0,
      gpus: w.gpus.map((g) => ({ index: g.index, utilizationPercent: 0, memoryUsedMib: 0 })),
      probeErrors: [],
    },
    deadlineMisses: 0,
  };
  return newWorkerSlot(worker);
}

export function buildTask(t: SimTaskSpec, slaMultiplier: number): Task {
  const spec: TaskSpec = {
    name: t.id,
    project: t.project ?? "sim",
    labels: {},
    queueClass: t.queueClass ?? "DEFAULT",
    priority: t.priority ?? "NORMAL",
    command: [],
    env: {},
    workingDir: "",
    resources: { cpuMillis: t.cpuMillis, memoryMib: t.memoryMib, gpuCount: t.gpuCount, gpuModel: t.gpuModel, gpuMemoryMib: 0 },
    requiredTags: t.requiredTags,
    preferredTags: t.preferredTags,
    kind: t.kind,
    ioIntensity: t.ioIntensity,
    estimateMs: t.estimateMs,
    deadlineMs: t.deadlineMs,
    timeoutMs: 0,
    maxRetries: t.maxRetries,
    idempotencyKey: "",
    // Only when set: a workload that says nothing of preemption builds the same spec as before.
    ...(t.preemptible !== undefined ? { preemptible: t.preemptible } : {}),
    ...(t.preemptGraceMs !== undefined ? { preemptGraceMs: t.preemptGraceMs } : {}),
  };
  const derived = t.estimateMs > 0 ? t.submitMs + t.estimateMs * slaMultiplier : null;
  return {
    id: t.id,
    spec,
    state: "QUEUED",
    progress: 0,
    progressMessage: "",
    createdAtMs: t.submitMs,
    updatedAtMs: t.submitMs,
    deadlineMs: t.deadlineMs ?? derived,
    currentAttemptId: null,
    attemptCount: 0,
    result: null,
    specHash: "",
    deadlineMissed: false,
    retriesUsed: 0,
    requeues: 0,
    notBeforeMs: null,
  };
}

/** Throws when any slot holds more than its worker's capacity (the "never over-commit" invariant). */
export function checkSlot(slot: WorkerSlot): void {
  const c = slot.worker.capacity;
  if (slot.allocations.size > c.maxTasks || slot.allocatedCpuMillis > c.cpuMillis || slot.allocatedMemoryMib > c.memoryMib) {
    throw new Error(`over-commit on ${slot.worker.id}: ${slot.allocations.size} tasks, ${slot.allocatedCpuMillis} cpu millis, ${slot.allocatedMemoryMib} MiB`);
  }
  let gpus = 0;
  for (const a of slot.allocations.values()) gpus += a.gpuIndexes.length;
  if (gpus !== slot.allocatedGpus.size || gpus > c.gpus.length) throw new Error(`GPU over-commit on ${slot.worker.id}`);
}
