// TaskService: submit, inspect and control tasks (DESIGN §4).
import { status, type ServerWritableStream } from "@grpc/grpc-js";
import { seesProject, submitProject, visibleProjectFilter, type Caller } from "../../src/core/access.js";
import { InvalidArgumentError, NotFoundError, TaskgridError } from "../../src/core/errors.js";
import { MultifactorQueue } from "../../src/core/fairshare/multifactor-queue.js";
import type { LeaderTerm } from "../leader-term.js";
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
import { toServiceError } from "../grpc-errors.js";
import type { Logger } from "../logger.js";
import { callerOf } from "../auth/guard.js";
import { leading, type Office } from "../leadership/office.js";
import { type CallContext, unary } from "./handlers.js";
import { streamLogs } from "./stream-logs.js";
import { resolveTaskId } from "./task-id-prefix.js";
import { cancelArray, isNotCreated, notCreatedElement, notCreatedError, notCreatedReason, resolveElementRef } from "./array-refs.js";
import { listHistory } from "./list-history.js";
import { setArrayHold, setTaskHold } from "./hold-release.js";

export interface TaskServiceDeps {
  store: Store;
  /** Writes, control and watches need the term in office; reads come from the database on any master. */
  office: Office;
  log: Logger;
  isAccepting: () => boolean;
}

function requireId(id: string, field: string): string {
  if (!id) throw new InvalidArgumentError(field, "is required");
  if (id.length > 64) throw new InvalidArgumentError(field, "at most 64 characters");
  noNul(field, id); // the id is looked up in Postgres, which cannot take NUL even in a query
  return id;
}

/** The strings of a ListTasks request reach SQL; NUL there would be an INTERNAL error, not the client's. */
function checkListStrings(req: { project: string; label: string; pageToken: string; arrayId: string }): void {
  noNul("project", req.project);
  noNul("array_id", req.arrayId);
  noNul("label", req.label);
  // A token is base64url (never NUL), but a forged one can decode to an id holding one.
  if (hasNul(decodePageToken(req.pageToken)?.id ?? "")) throw new InvalidArgumentError("page_token", "is not a token returned by a previous call");
}

/** Most recent events returned by GetTask (a task reporting progress often has many). */
const MAX_HISTORY = 1000;

export function createTaskService(deps: TaskServiceDeps): TaskServiceServer {
  const { store, office, log, isAccepting } = deps;
  const u = <Req, Res>(name: string, fn: (req: Req, ctx: CallContext) => Promise<Res>) => unary<Req, Res>(log, name, isAccepting, fn);

  /** Another project's task is answered exactly like a missing one: its existence is not revealed. A unique prefix stands for its task. */
  const loadTask = async (taskId: string, caller: Caller): Promise<Task> => {
    const task =
      (await store.getTask(await resolveTaskId(store, await resolveElementRef(store, requireId(taskId, "task_id")), caller))) ??
      (await notCreatedElement(store, taskId));
    if (!task || !seesProject(caller, task.spec.project)) throw new NotFoundError("task", taskId);
    return task;
  };
  /** Validated specs, each in the project the caller may submit to. */
  const specsOf = (specs: Array<Parameters<typeof specFromProto>[0]>, caller: Caller, field: (i: number) => string) =>
    specs.map((s, i) => {
      const spec = specFromProto(s, field(i));
      return { ...spec, project: submitProject(caller, spec.project, `${field(i)}.project`) };
    });
  const workerOf = (task: Task) => (task.currentAttemptId ? (office.term()?.state.liveAttempts.get(task.currentAttemptId)?.workerId ?? "") : "");
  /** Why a queued task waits: known to the leader only (a standby answers with none). */
  const pendingReason = (task: Task) => (isNotCreated(task) ? notCreatedReason(task) : (office.term()?.state.pendingReason(task) ?? ""));
  /** The multifactor breakdown of a queued task (the leader under that ordering; null otherwise). */
  const priorityOf = (task: Task) => {
    const queue = office.term()?.state.queue;
    return queue instanceof MultifactorQueue && queue.has(task.id) ? { ...queue.breakdownOf(task), weights: queue.weights } : null;
  };
  const withAttempts = async (task: Task) => taskToProto(task, await store.getAttempts(task.id), pendingReason(task), priorityOf(task));

  /** Control calls: NOT_FOUND (unknown or another project's), FAILED_PRECONDITION (already ended). */
  const control = async (given: string, caller: Caller, to: "CANCELED" | "PAUSED" | "RUNNING", act: (term: LeaderTerm, taskId: string) => Promise<Task>) => {
    const term = leading(office);
    let taskId = await resolveElementRef(store, requireId(given, "task_id"));
    let active = term.state.activeTasks.get(taskId);
    if (!active) {
      const task = await loadTask(taskId, caller); // also resolves a unique id prefix
      if (isNotCreated(task)) throw notCreatedError(task);
      taskId = task.id;
      active = term.state.activeTasks.get(taskId);
      if (!active) assertTransition(taskId, task.state, to);
    } else if (!seesProject(caller, active.spec.project)) throw new NotFoundError("task", taskId);
    return { task: await withAttempts(await act(term, taskId)), canceledElements: 0 };
  };

  /** HoldTask / ReleaseTask: an array id (its queued elements, and those it creates later) or one task. */
  const holdOrRelease = async (given: string, caller: Caller, hold: boolean) => {
    const term = leading(office);
    const arrayId = requireId(given, "task_id");
    const live = term.gate.liveArray(arrayId);
    if (live !== undefined && seesProject(caller, live.project)) return { task: undefined, elements: await setArrayHold(term, store, arrayId, hold) };
    const task = await loadTask(given, caller);
    if (isNotCreated(task)) throw notCreatedError(task);
    return { task: await withAttempts(await setTaskHold(term, store, task.id, hold)), elements: 0 };
  };

  return {
    // The caller's trace context is parsed only if tracing is on (the submitter asks for it).
    submitTask: u("SubmitTask", async (req, { metadata, caller }) => {
      const specs = specsOf([req.spec], caller, () => "spec");
      const { tasks, existing } = await leading(office).submitter.submit(
        specs,
        { method: "SubmitTask", carrier: () => traceCarrierOf(metadata) },
        caller.actor,
      );
      return { task: taskToProto(tasks[0]), existing };
    }),
    submitTasks: u("SubmitTasks", async (req, { metadata, caller }) => {
      const specs = specsOf(req.specs, caller, (i) => `specs[${i}]`);
      const { ids, existing } = await leading(office).submitter.submit(specs, { method: "SubmitTasks", carrier: () => traceCarrierOf(metadata) }, caller.actor);
      return { taskIds: ids, existing };
    }),
    getTask: u("GetTask", async (req, { caller }) => {
      const task = await loadTask(req.taskId, caller);
      const events = await store.getEvents(task.id);
      return { task: await withAttempts(task), events: events.slice(-MAX_HISTORY).map(eventToProto) };
    }),
    listTasks: u("ListTasks", async (req, { caller }) => {
      const pageSize = req.pageSize === 0 ? 100 : req.pageSize;
      if (pageSize < 1 || pageSize > 1000) throw new InvalidArgumentError("page_size", "must be 1..1000");
      if (req.label && !/^[^=]+=.*$/.test(req.label)) throw new InvalidArgumentError("label", 'must be "key=value"');
      checkListStrings(req);
      const visible = visibleProjectFilter(caller, req.project);
      if (visible.empty) return { tasks: [], nextPageToken: "" };
      // The array's progress is read before its elements: a chunk committed in between then shows as
      // elements beyond `created`, never as `created` counting elements the page lacks (a follower
      // that saw every listed element end and created == total would stop short of the rest).
      const record = req.arrayId ? await store.getArrayRecord(req.arrayId) : null;
      const page = await store.listTasks(
        {
          states: req.states.map((s, i) => taskStateEnum.toDomain(s, `states[${i}]`)),
          queueClass: req.queueClass === 0 ? undefined : queueClassEnum.toDomain(req.queueClass, "queue_class"),
          project: visible.project || undefined,
          label: req.label || undefined,
          arrayId: req.arrayId || undefined,
        },
        pageSize,
        req.pageToken,
      );
      // Each task's current attempt (where it runs), from the leader's memory; GetTask has them all.
      const current = (t: Task) => (t.currentAttemptId ? office.term()?.state.liveAttempts.get(t.currentAttemptId)?.attempt : undefined);
      const array =
        record && seesProject(caller, record.template.spec.project) ? { total: record.total, created: record.created, canceled: record.canceled } : undefined;
      return {
        array,
        tasks: page.tasks.map((t) => {
          const live = current(t);
          return taskToProto(t, live ? [live] : [], pendingReason(t), priorityOf(t));
        }),
        nextPageToken: page.nextPageToken,
      };
    }),
    watchTasks: (call) => watchTasks(call),
    streamLogs: (call) =>
      void streamLogs(call, { store, office, log, isAccepting, loadTask }).catch((err) =>
        log.error("StreamLogs failed", { task: call.request.taskId, error: String(err) }),
      ),
    cancelTask: u("CancelTask", async (req, { caller }) => {
      noNul("reason", req.reason); // stored as the result message of the canceled task
      // A whole job array by its id: every element that has not ended.
      const canceled = await cancelArray(leading(office), store, requireId(req.taskId, "task_id"), req.reason, caller);
      if (canceled !== null) return { task: undefined, canceledElements: canceled };
      return control(req.taskId, caller, "CANCELED", (term, id) => term.lifecycle.cancel(id, req.reason, caller.actor));
    }),
    holdTask: u("HoldTask", async (req, { caller }) => holdOrRelease(req.taskId, caller, true)),
    releaseTask: u("ReleaseTask", async (req, { caller }) => holdOrRelease(req.taskId, caller, false)),
    pauseTask: u("PauseTask", async (req, { caller }) => control(req.taskId, caller, "PAUSED", (term, id) => term.lifecycle.pause(id, caller.actor))),
    resumeTask: u("ResumeTask", async (req, { caller }) => control(req.taskId, caller, "RUNNING", (term, id) => term.lifecycle.resume(id, caller.actor))),
    listHistory: u("ListHistory", async (req, { caller }) => listHistory(store, req, caller)),
  };

  /** The term's in-memory task when it is active and the caller may see it; undefined: ask loadTask. */
  function activeVisible(term: LeaderTerm, taskId: string, caller: Caller): Task | undefined {
    const task = term.state.activeTasks.get(taskId);
    return task !== undefined && seesProject(caller, task.spec.project) ? task : undefined;
  }

  /** Events come from the term in office (a standby redirects); the stream ends when the term does. */
  async function watchTasks(call: ServerWritableStream<WatchTasksRequest, WatchTasksResponse>): Promise<void> {
    let ids = call.request.taskIds;
    const caller = callerOf(call);
    const visible = visibleProjectFilter(caller, call.request.project);
    let d: LeaderTerm;
    try {
      if (!isAccepting()) throw new Error("shutting down");
      ids.forEach((id, i) => requireId(id, `task_ids[${i}]`));
      noNul("project", call.request.project);
      d = leading(office);
      // Unique prefixes become ids before subscribing (events carry full ids).
      ids = await Promise.all(ids.map(async (id, i) => resolveTaskId(store, await resolveElementRef(store, id), caller, `task_ids[${i}]`)));
    } catch (err) {
      call.emit(
        "error",
        err instanceof TaskgridError ? toServiceError(err, log, "WatchTasks") : { code: status.UNAVAILABLE, details: "master is shutting down" },
      );
      return;
    }
    // A filter naming a project the caller cannot see matches nothing.
    if (ids.length === 0 && visible.empty) return void call.end();
    const unsubscribe = d.hub.subscribe({
      taskIds: ids.length > 0 ? new Set(ids) : null,
      project: visible.project,
      // Another project's events never reach the stream (its task ids are answered NOT_FOUND below).
      push: (event, project) => seesProject(caller, project) && call.write({ event: eventToProto(event) }),
    });
    d.watchCalls.add(call);
    const done = () => {
      unsubscribe();
      d.watchCalls.delete(call);
    };
    call.on("cancelled", done);
    call.on("close", done);
    call.on("error", done);
    // Subscribe first, then send current states, so no change can fall between the two. An active
    // task's state is the term's own (events are published as the master applies each commit, so
    // its memory is what they follow); the database may already hold a later one, whose events
    // would then arrive after it. A task no longer active has published all its events.
    try {
      for (const id of ids) {
        const task = activeVisible(d, id, caller) ?? (await loadTask(id, caller));
        call.write({
          event: eventToProto({
            taskId: task.id,
            state: task.state,
            progress: task.progress,
            progressMessage: task.progressMessage,
            timeMs: task.updatedAtMs,
            attemptId: task.currentAttemptId ?? "",
            workerId: workerOf(task),
            result: task.result,
            actor: "",
          }),
        });
      }
    } catch (err) {
      done();
      call.emit("error", toServiceError(err, log, "WatchTasks"));
    }
  }
}
