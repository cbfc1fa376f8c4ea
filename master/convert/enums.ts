// Proto enum numbers <-> domain string unions. Unknown numbers (a newer client, a typo in buf curl)
// are INVALID_ARGUMENT naming the field, never silently mapped.
import { InvalidArgumentError } from "../../src/core/errors.js";
import type {
  AttemptOutcome as DomainOutcome,
  Priority as DomainPriority,
  QueueClass as DomainQueueClass,
  TaskState as DomainTaskState,
  WorkerStatus as DomainWorkerStatus,
} from "../../src/core/types.js";
import type { Role as DomainRole } from "../../src/core/access.js";
import { AttemptOutcome, Priority, QueueClass, Role, TaskState, WorkerStatus } from "../../src/gen/taskgrid/v1/types.js";

function table<P extends number, D extends string>(pairs: Array<[P, D]>) {
  const toDomain = new Map<number, D>(pairs);
  const toProto = new Map<D, P>(pairs.map(([p, d]) => [d, p]));
  return {
    toDomain(value: number, field: string, unspecified?: D): D {
      if (value === 0 && unspecified !== undefined) return unspecified;
      const d = toDomain.get(value);
      if (d === undefined) throw new InvalidArgumentError(field, `unknown enum value ${value}`);
      return d;
    },
    toProto(value: D): P {
      return toProto.get(value)!;
    },
  };
}

export const queueClassEnum = table<QueueClass, DomainQueueClass>([
  [QueueClass.QUEUE_CLASS_LIVE, "LIVE"],
  [QueueClass.QUEUE_CLASS_DEFAULT, "DEFAULT"],
  [QueueClass.QUEUE_CLASS_BATCH, "BATCH"],
]);

export const priorityEnum = table<Priority, DomainPriority>([
  [Priority.PRIORITY_HIGH, "HIGH"],
  [Priority.PRIORITY_NORMAL, "NORMAL"],
  [Priority.PRIORITY_LOW, "LOW"],
]);

export const taskStateEnum = table<TaskState, DomainTaskState>([
  [TaskState.TASK_STATE_QUEUED, "QUEUED"],
  [TaskState.TASK_STATE_ASSIGNED, "ASSIGNED"],
  [TaskState.TASK_STATE_RUNNING, "RUNNING"],
  [TaskState.TASK_STATE_PAUSED, "PAUSED"],
  [TaskState.TASK_STATE_SUCCEEDED, "SUCCEEDED"],
  [TaskState.TASK_STATE_FAILED, "FAILED"],
  [TaskState.TASK_STATE_CANCELED, "CANCELED"],
]);

export const outcomeEnum = table<AttemptOutcome, DomainOutcome>([
  [AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, "SUCCEEDED"],
  [AttemptOutcome.ATTEMPT_OUTCOME_FAILED, "FAILED"],
  [AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, "CANCELED"],
  [AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT, "TIMEOUT"],
  [AttemptOutcome.ATTEMPT_OUTCOME_LOST, "LOST"],
  [AttemptOutcome.ATTEMPT_OUTCOME_START_FAILED, "START_FAILED"],
  [AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED, "PREEMPTED"],
]);

export const workerStatusEnum = table<WorkerStatus, DomainWorkerStatus>([
  [WorkerStatus.WORKER_STATUS_ONLINE, "ONLINE"],
  [WorkerStatus.WORKER_STATUS_SUSPECT, "SUSPECT"],
  [WorkerStatus.WORKER_STATUS_OFFLINE, "OFFLINE"],
  [WorkerStatus.WORKER_STATUS_DRAINING, "DRAINING"],
]);

export const roleEnum = table<Role, DomainRole>([
  [Role.ROLE_VIEWER, "viewer"],
  [Role.ROLE_SUBMITTER, "submitter"],
  [Role.ROLE_ADMIN, "admin"],
  [Role.ROLE_AGENT, "agent"],
]);
