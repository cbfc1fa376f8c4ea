// Domain values -> proto messages for responses, watch events and agent assignments.
import type { MultifactorWeights, PriorityBreakdown } from "../../src/core/fairshare/types.js";
import type { Attempt, PlacementDecision, ScoreBreakdown, Task, TaskEvent, TaskResult, TaskSpec, Worker } from "../../src/core/types.js";
import type { WorkerSlot } from "../../src/core/worker-slot.js";
import type * as pb from "../../src/gen/taskgrid/v1/task.js";
import type { Worker as ProtoWorker } from "../../src/gen/taskgrid/v1/admin_service.js";
import { arrayEnv } from "../../src/core/arrays.js";
import { outcomeEnum, priorityEnum, queueClassEnum, taskStateEnum, workerStatusEnum } from "./enums.js";

const date = (ms: number | null): Date | undefined => (ms === null ? undefined : new Date(ms));

export function specToProto(spec: TaskSpec): pb.TaskSpec {
  return {
    name: spec.name,
    project: spec.project,
    labels: spec.labels,
    queueClass: queueClassEnum.toProto(spec.queueClass),
    priority: priorityEnum.toProto(spec.priority),
    command: spec.command,
    env: spec.env,
    workingDir: spec.workingDir,
    resources: { ...spec.resources },
    requiredTags: spec.requiredTags,
    preferredTags: spec.preferredTags,
    kind: spec.kind,
    ioIntensity: spec.ioIntensity,
    estimateMs: spec.estimateMs,
    deadline: date(spec.deadlineMs),
    timeoutMs: spec.timeoutMs,
    maxRetries: spec.maxRetries,
    idempotencyKey: spec.idempotencyKey,
    maxRequeues: spec.maxRequeues,
    retryBackoffMs: spec.retryBackoffMs,
    preemptible: spec.preemptible,
    preemptGraceMs: spec.preemptGraceMs,
    preemptSignal: spec.preemptSignal ?? "",
    array: spec.array ?? "",
    after: spec.after ?? [],
    afterAny: spec.afterAny ?? [],
    afterFail: spec.afterFail ?? [],
    keepInvalidDependency: spec.keepInvalidDependency === true,
    hold: spec.hold === true,
  };
}

/** The spec an agent runs: an array element's also has TASKGRID_ARRAY_ID and TASKGRID_ARRAY_INDEX. */
export function assignedSpecToProto(task: Task): pb.TaskSpec {
  const spec = specToProto(task.spec);
  return task.arrayId === undefined ? spec : { ...spec, env: { ...spec.env, ...arrayEnv(task.arrayId, task.arrayIndex ?? 0) } };
}

export function resultToProto(r: TaskResult | null): pb.TaskResult | undefined {
  if (!r) return undefined;
  return { ...r, outcome: outcomeEnum.toProto(r.outcome) };
}

const breakdown = (b: ScoreBreakdown | null): pb.ScoreBreakdown | undefined => (b ? { ...b } : undefined);

function decisionToProto(d: PlacementDecision | null): pb.PlacementDecision | undefined {
  if (!d) return undefined;
  return { ...d, chosen: breakdown(d.chosen), runnerUp: breakdown(d.runnerUp) };
}

export function attemptToProto(a: Attempt): pb.Attempt {
  return {
    id: a.id,
    number: a.number,
    workerId: a.workerId,
    gpuIndexes: a.gpuIndexes,
    assignedAt: date(a.assignedAtMs),
    startedAt: date(a.startedAtMs),
    finishedAt: date(a.finishedAtMs),
    result: resultToProto(a.result),
    decision: decisionToProto(a.decision),
    borrowed: a.borrowed === true,
  };
}

function priorityToProto(p: PriorityBreakdown & { weights?: MultifactorWeights }): pb.PriorityBreakdown {
  const w = p.weights;
  return {
    queueClass: p.queueClass,
    priority: p.priority,
    fairShare: p.fairShare,
    age: p.age,
    size: p.size,
    total: p.total,
    weightQueueClass: w?.queueClass ?? 0,
    weightPriority: w?.priority ?? 0,
    weightFairShare: w?.fairShare ?? 0,
    weightAge: w?.age ?? 0,
    weightSize: w?.size ?? 0,
  };
}

/** `priority`: the multifactor breakdown of a QUEUED task (the leader under that ordering), else null. */
export function taskToProto(
  task: Task,
  attempts: Attempt[] = [],
  pendingReason = "",
  priority: (PriorityBreakdown & { weights?: MultifactorWeights }) | null = null,
): pb.Task {
  return {
    id: task.id,
    spec: specToProto(task.spec),
    state: taskStateEnum.toProto(task.state),
    progress: task.progress,
    progressMessage: task.progressMessage,
    createdAt: date(task.createdAtMs),
    updatedAt: date(task.updatedAtMs),
    deadline: date(task.deadlineMs),
    attempts: attempts.map(attemptToProto),
    result: resultToProto(task.result),
    pendingReason: task.state === "QUEUED" ? pendingReason : "",
    deadlineMissed: task.deadlineMissed,
    retriesUsed: task.retriesUsed,
    requeues: task.requeues,
    notBefore: task.state === "QUEUED" ? date(task.notBeforeMs) : undefined,
    priority: task.state === "QUEUED" && priority ? priorityToProto(priority) : undefined,
    arrayId: task.arrayId ?? "",
    arrayIndex: task.arrayIndex ?? 0,
  };
}

export function eventToProto(e: TaskEvent): pb.TaskEvent {
  return {
    taskId: e.taskId,
    state: taskStateEnum.toProto(e.state),
    progress: e.progress,
    progressMessage: e.progressMessage,
    time: new Date(e.timeMs),
    attemptId: e.attemptId,
    workerId: e.workerId,
    result: resultToProto(e.result),
    actor: e.actor,
  };
}

export function workerToProto(w: Worker, slot?: WorkerSlot): ProtoWorker {
  const t = w.telemetry;
  return {
    id: w.id,
    hostname: w.hostname,
    tags: w.tags,
    capacity: { ...w.capacity, gpus: w.capacity.gpus.map((g) => ({ ...g })) },
    status: workerStatusEnum.toProto(w.status),
    telemetry: t ? { ...t, sampledAt: new Date(t.sampledAtMs), gpus: t.gpus.map((g) => ({ ...g })) } : undefined,
    lastSeenAt: date(w.lastSeenAtMs),
    allocatedCpuMillis: slot?.allocatedCpuMillis ?? 0,
    allocatedMemoryMib: slot?.allocatedMemoryMib ?? 0,
    allocatedGpuIndexes: slot ? [...slot.allocatedGpus].sort((a, b) => a - b) : [],
    runningAttempts: slot?.allocations.size ?? 0,
    agentVersion: w.agentVersion,
    registeredAt: date(w.registeredAtMs),
    deadlineMisses: w.deadlineMisses,
  };
}
