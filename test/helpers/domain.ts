// Builders for domain values in unit tests: a valid default, overridden where a test cares.
import type { Task, TaskSpec, Worker } from "../../src/core/types.js";
import { newWorkerSlot, type WorkerSlot } from "../../src/core/worker-slot.js";

export function spec(overrides: Partial<TaskSpec> = {}): TaskSpec {
  return {
    name: "t",
    project: "",
    labels: {},
    queueClass: "DEFAULT",
    priority: "NORMAL",
    command: ["true"],
    env: {},
    workingDir: "",
    resources: { cpuMillis: 1000, memoryMib: 256, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0 },
    requiredTags: [],
    preferredTags: [],
    kind: "",
    ioIntensity: 0,
    estimateMs: 0,
    deadlineMs: null,
    timeoutMs: 0,
    maxRetries: 0,
    idempotencyKey: "",
    ...overrides,
  };
}

let seq = 0;
export function task(specOverrides: Partial<TaskSpec> = {}, overrides: Partial<Task> = {}): Task {
  seq++;
  return {
    id: `task-${String(seq).padStart(6, "0")}`,
    spec: spec(specOverrides),
    state: "QUEUED",
    progress: 0,
    progressMessage: "",
    createdAtMs: seq,
    updatedAtMs: seq,
    deadlineMs: null,
    currentAttemptId: null,
    attemptCount: 0,
    result: null,
    specHash: "",
    deadlineMissed: false,
    retriesUsed: 0,
    requeues: 0,
    notBeforeMs: null,
    ...overrides,
  };
}

export function worker(id: string, overrides: Partial<Worker> = {}): Worker {
  return {
    id,
    hostname: id,
    tags: [],
    capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 4, gpus: [] },
    status: "ONLINE",
    agentVersion: "test",
    registeredAtMs: 0,
    lastSeenAtMs: 0,
    telemetry: null,
    deadlineMisses: 0,
    ...overrides,
  };
}

export function slot(id: string, overrides: Partial<Worker> = {}): WorkerSlot {
  return newWorkerSlot(worker(id, overrides));
}

export function gpus(count: number, model = "NVIDIA H100 80GB HBM3", memoryMib = 81559) {
  return Array.from({ length: count }, (_, index) => ({ index, uuid: `GPU-${index}`, model, memoryMib, numaNode: 0 }));
}
