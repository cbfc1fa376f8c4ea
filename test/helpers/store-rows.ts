// Row builders for the store suite: unique ids and a strictly increasing fake clock, so every
// test can work on its own rows in a shared database.
import { randomUUID } from "node:crypto";
import type { Task, TaskEvent, TaskSpec, TaskState, Worker } from "../../src/core/types.js";
import type { StoreWrite } from "../../src/store/store-types.js";
import { spec as baseSpec } from "./domain.js";

let clock = 1_700_000_000_000;
export const tick = (): number => ++clock;

export function spec(overrides: Partial<TaskSpec> = {}): TaskSpec {
  return baseSpec({ name: "job", project: "p", ...overrides });
}

export function task(specOverrides: Partial<TaskSpec> = {}, overrides: Partial<Task> = {}): Task {
  const now = tick();
  return {
    id: randomUUID(),
    spec: spec(specOverrides),
    state: "QUEUED",
    progress: 0,
    progressMessage: "",
    createdAtMs: now,
    updatedAtMs: now,
    deadlineMs: specOverrides.deadlineMs ?? null,
    currentAttemptId: null,
    attemptCount: 0,
    result: null,
    specHash: JSON.stringify(specOverrides),
    deadlineMissed: false,
    retriesUsed: 0,
    requeues: 0,
    notBeforeMs: null,
    ...overrides,
  };
}

export function event(t: Task, state: TaskState, extra: Partial<TaskEvent> = {}): TaskEvent {
  return { taskId: t.id, state, progress: 0, progressMessage: "", timeMs: tick(), attemptId: "", workerId: "", result: null, actor: "", ...extra };
}

export function request(...tasks: Task[]) {
  return { tasks, actor: "" };
}

export function worker(id: string, overrides: Partial<Worker> = {}): Worker {
  return {
    id,
    hostname: `${id}.local`,
    tags: ["gpu", "ssd"],
    capacity: { cpuMillis: 8000, memoryMib: 32768, maxTasks: 4, gpus: [{ index: 0, uuid: "GPU-1", model: "H100", memoryMib: 81920, numaNode: 0 }] },
    status: "ONLINE",
    agentVersion: "0.1.0",
    registeredAtMs: tick(),
    lastSeenAtMs: clock,
    telemetry: null,
    deadlineMisses: 0,
    ...overrides,
  };
}

type TaskUpdate = Extract<StoreWrite, { kind: "update_task" }>;

/** An "update_task" write moving `taskId` to `state` after its first attempt, no attempt held (override any field). */
export function taskUpdate(taskId: string, state: TaskState, extra: Partial<TaskUpdate> = {}): TaskUpdate {
  return {
    kind: "update_task",
    taskId,
    state,
    updatedAtMs: tick(),
    currentAttemptId: null,
    attemptCount: 1,
    result: null,
    retriesUsed: 0,
    requeues: 0,
    notBeforeMs: null,
    ...extra,
  };
}
