// TaskService: submit, inspect and control tasks (DESIGN §4).
import { status, type Metadata, type ServerWritableStream } from "@grpc/grpc-js";
import { InvalidArgumentError, NotFoundError } from "../../src/core/errors.js";
import { hasNul, noNul } from "../../src/core/text-rules.js";
import { assertTransition } from "../../src/core/transitions.js";
import type { Task } from "../../src/core/types.js";
import type { TaskServiceServer } from "../../src/gen/taskgrid/v1/task_service.js";
import type { WatchTasksRequest, WatchTasksResponse } from "../../src/gen/taskgrid/v1/task_service.js";
import { decodePageToken } from "../../src/store/page-token.js";
import type { Store } from "../../src/store/store-types.js";
import { traceCarrierOf } from "../../src/telemetry/grpc-trace-metadata.js";
import { taskStateEnum, queueClassEnum } from "../convert/enums.js";
import { specFromProto } from "../convert/from-proto.js";
import { eventToProto, taskToProto } from "../convert/to-proto.js";
import type { EventHub } from "../event-hub.js";
import { toServiceError } from "../grpc-errors.js";
import type { Logger } from "../logger.js";
import type { MasterState } from "../state.js";
import type { Submitter } from "../submit.js";
import type { TaskLifecycle } from "../task-lifecycle.js";
import { unary } from "./handlers.js";

export interface TaskServiceDeps {
  store: Store;
  state: MasterState;
  hub: EventHub;
  submitter: Submitter;
  lifecycle: TaskLifecycle;
  log: Logger;
  isAccepting: () => boolean;
  /** Open watch streams, ended on shutdown. */
  watchCalls: Set<ServerWritableStream<WatchTasksRequest, WatchTasksResponse>>;
}

function requireId(id: string, field: string): string {
  if (!id) throw new InvalidArgumentError(field, "is required");
  if (id.length > 64) throw new InvalidArgumentError(field, "at most 64 characters");
  noNul(field, id); // the id is looked up in Postgres, which cannot take NUL even in a query
  return id;
}

/** The strings of a ListTasks request reach SQL; NUL there would be an INTERNAL error, not the client's. */
function checkListStrings(req: { project: string; label: string; pageToken: string }): void {
  noNul("project", req.project);
  noNul("label", req.label);
  // A token is base64url (never NUL), but a forged one can decode to an id holding one.
  if (hasNul(decodePageToken(req.pageToken)?.id ?? "")) throw new InvalidArgumentError("page_token", "is not a token returned by a previous call");
}

export function createTaskService(deps: TaskServiceDeps): TaskServiceServer {
  const { store, state, log, isAccepting } = deps;
  const u = <Req, Res>(name: string, fn: (req: Req, metadata: Metadata) => Promise<Res>) => unary<Req, Res>(log, name, isAccepting, fn);

  const loadTask = async (taskId: string): Promise<Task> => {
    const task = await store.getTask(requireId(taskId, "task_id"));
    if (!task) throw new NotFoundError("task", taskId);
    return task;
  };
  const workerOf = (task: Task) => (task.currentAttemptId ? (state.liveAttempts.get(task.currentAttemptId)?.workerId ?? "") : "");
  const withAttempts = async (task: Task) => taskToProto(task, await store.getAttempts(task.id), state.pendingReason(task));

  /** For control calls on a task not in memory: NOT_FOUND or FAILED_PRECONDITION (already ended). */
  const control = async (taskId: string, to: "CANCELED" | "PAUSED" | "RUNNING", act: () => Promise<Task>) => {
    requireId(taskId, "task_id");
    if (!state.activeTasks.has(taskId)) {
      const task = await loadTask(taskId);
      assertTransition(taskId, task.state, to);
    }
    return { task: await withAttempts(await act()) };
  };

  return {
    // The caller's trace context is parsed only if tracing is on (the submitter asks for it).
    submitTask: u("SubmitTask", async (req, md) => {
      const { tasks, existing } = await deps.submitter.submit([specFromProto(req.spec, "spec")], { method: "SubmitTask", carrier: () => traceCarrierOf(md) });
      return { task: taskToProto(tasks[0]), existing };
    }),
    submitTasks: u("SubmitTasks", async (req, md) => {
      const specs = req.specs.map((s, i) => specFromProto(s, `specs[${i}]`));
      const { tasks } = await deps.submitter.submit(specs, { method: "SubmitTasks", carrier: () => traceCarrierOf(md) });
      return { taskIds: tasks.map((t) => t.id) };
    }),
    getTask: u("GetTask", async (req) => ({ task: await withAttempts(await loadTask(req.taskId)) })),
    listTasks: u("ListTasks", async (req) => {
      const pageSize = req.pageSize === 0 ? 100 : req.pageSize;
      if (pageSize < 1 || pageSize > 1000) throw new InvalidArgumentError("page_size", "must be 1..1000");
      if (req.label && !/^[^=]+=.*$/.test(req.label)) throw new InvalidArgumentError("label", 'must be "key=value"');
      checkListStrings(req);
      const page = await store.listTasks(
        {
          states: req.states.map((s, i) => taskStateEnum.toDomain(s, `states[${i}]`)),
          queueClass: req.queueClass === 0 ? undefined : queueClassEnum.toDomain(req.queueClass, "queue_class"),
          project: req.project || undefined,
          label: req.label || undefined,
        },
        pageSize,
        req.pageToken,
      );
      return { tasks: page.tasks.map((t) => taskToProto(t, [], state.pendingReason(t))), nextPageToken: page.nextPageToken };
    }),
    watchTasks: (call) => watchTasks(deps, call),
    cancelTask: u("CancelTask", async (req) => {
      noNul("reason", req.reason); // stored as the result message of the canceled task
      return control(req.taskId, "CANCELED", () => deps.lifecycle.cancel(req.taskId, req.reason));
    }),
    pauseTask: u("PauseTask", async (req) => control(req.taskId, "PAUSED", () => deps.lifecycle.pause(req.taskId))),
    resumeTask: u("ResumeTask", async (req) => control(req.taskId, "RUNNING", () => deps.lifecycle.resume(req.taskId))),
  };

  async function watchTasks(d: TaskServiceDeps, call: ServerWritableStream<WatchTasksRequest, WatchTasksResponse>): Promise<void> {
    const ids = call.request.taskIds;
    try {
      if (!isAccepting()) throw new Error("shutting down");
      ids.forEach((id, i) => requireId(id, `task_ids[${i}]`));
      noNul("project", call.request.project);
    } catch (err) {
      call.emit("error", err instanceof InvalidArgumentError ? toServiceError(err, log, "WatchTasks") : { code: status.UNAVAILABLE, details: "master is shutting down" });
      return;
    }
    const unsubscribe = d.hub.subscribe({
      taskIds: ids.length > 0 ? new Set(ids) : null,
      project: call.request.project,
      push: (event) => call.write({ event: eventToProto(event) }),
    });
    d.watchCalls.add(call);
    const done = () => {
      unsubscribe();
      d.watchCalls.delete(call);
    };
    call.on("cancelled", done);
    call.on("close", done);
    call.on("error", done);
    // Subscribe first, then send current states, so no change can fall between the two.
    try {
      for (const id of ids) {
        const task = await store.getTask(id);
        if (!task) throw new NotFoundError("task", id);
        call.write({ event: eventToProto({ taskId: task.id, state: task.state, progress: task.progress, progressMessage: task.progressMessage, timeMs: task.updatedAtMs, attemptId: task.currentAttemptId ?? "", workerId: workerOf(task), result: task.result }) });
      }
    } catch (err) {
      done();
      call.emit("error", toServiceError(err, log, "WatchTasks"));
    }
  }
}
