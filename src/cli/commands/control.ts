// The one-shot control verbs: cancel, pause, resume (tasks) and drain (workers).
import { Worker } from "../../gen/taskgrid/v1/admin_service.js";
import { Task } from "../../gen/taskgrid/v1/task.js";
import { CancelTaskResponse, type ListTasksRequest } from "../../gen/taskgrid/v1/task_service.js";
import { TaskState } from "../../gen/taskgrid/v1/types.js";
import { toClientError, type ClientError, type TaskgridClient } from "../../client/index.js";
import { boolFlag, listFlag, stringFlag, type ParsedArgs } from "../args.js";
import { CLIENT_FLAGS, printJson, withClient, type Command, type Io } from "../command.js";
import { clientErrorText } from "../error-text.js";
import { stateName, workerStatusName } from "../format.js";
import { parseKeyValue, parseTaskStates } from "../parse.js";
import { UsageError } from "../usage-error.js";

const FAILED_PRECONDITION = 9;
const REASON_FLAG = { reason: { type: "string", value: "TEXT", description: "why (recorded by the master)" } } as const;

function onlyId(args: ParsedArgs, verb: string, what: string): string {
  if (args.positionals.length !== 1) throw new UsageError(`${verb} takes exactly one ${what}`);
  return args.positionals[0];
}

/** Builds a verb that changes one task and prints its new state. */
function taskVerb(name: string, summary: string, call: (c: TaskgridClient, id: string, args: ParsedArgs) => Promise<Task>, withReason: boolean): Command {
  return {
    name,
    summary,
    usage: `${name} [flags] TASK_ID`,
    flags: { ...(withReason ? REASON_FLAG : {}), ...CLIENT_FLAGS },
    async run(args: ParsedArgs, io: Io) {
      const id = onlyId(args, name, "task id");
      return withClient(args, io, async (client) => {
        const task = await call(client, id, args);
        if (boolFlag(args, "json")) printJson(io, Task.toJSON(task));
        else io.out(`task ${task.id} ${stateName(task.state)}\n`);
        return 0;
      });
    },
  };
}

/** The states a task can be canceled in (the rest have ended). */
const CANCELABLE_STATES = [TaskState.TASK_STATE_QUEUED, TaskState.TASK_STATE_ASSIGNED, TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_PAUSED];
const FILTER_FLAGS = ["project", "state", "label", "array"] as const;
const LIST_PAGE_SIZE = 1000;
/** Cancel calls in flight at once with filters: thousands of matches should not take one round trip each in turn. */
const CANCELS_IN_FLIGHT = 16;

/** What one cancel call did: the task or array it canceled, or why not. */
type CancelOutcome = { ref: string; response: CancelTaskResponse } | { ref: string; error: ClientError };

async function cancelOne(client: TaskgridClient, ref: string, reason: string): Promise<CancelOutcome> {
  try {
    return { ref, response: await client.cancelTaskOrArray(ref, reason) };
  } catch (err) {
    return { ref, error: toClientError(err) };
  }
}

/** Cancels every ref with at most `inFlight` calls at a time; outcomes in the refs' order. */
async function cancelAll(client: TaskgridClient, refs: readonly string[], reason: string, inFlight: number): Promise<CancelOutcome[]> {
  const outcomes: CancelOutcome[] = new Array(refs.length);
  let next = 0;
  const worker = async () => {
    while (next < refs.length) {
      const i = next++;
      outcomes[i] = await cancelOne(client, refs[i], reason);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, refs.length) }, worker));
  return outcomes;
}

/** The ListTasks filter of `cancel --project/--state/--label/--array`, or undefined without any. */
function cancelFilter(args: ParsedArgs): Partial<ListTasksRequest> | undefined {
  if (!FILTER_FLAGS.some((f) => args.flags[f] !== undefined)) return undefined;
  const states = parseTaskStates(listFlag(args, "state"));
  const ended = states.filter((s) => !CANCELABLE_STATES.includes(s));
  if (ended.length > 0) throw new UsageError(`--state: ${ended.map(stateName).join(", ")} tasks have ended; cancel takes queued, assigned, running, paused`);
  const label = stringFlag(args, "label");
  return {
    states: states.length > 0 ? states : CANCELABLE_STATES,
    project: stringFlag(args, "project") ?? "",
    label: label === undefined ? "" : parseKeyValue(label, "label").join("="),
    arrayId: stringFlag(args, "array") ?? "",
  };
}

/** Ids of every task matching `filter`, all pages, listed before any is canceled (canceling changes what matches). */
async function matchingTaskIds(client: TaskgridClient, filter: Partial<ListTasksRequest>): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  do {
    const page = await client.listTasks({ ...filter, pageSize: LIST_PAGE_SIZE, pageToken });
    for (const task of page.tasks) ids.push(task.id);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return ids;
}

/** A task that ended between the listing and its cancel is not a failure: it needs no cancel. */
const alreadyEnded = (o: CancelOutcome) => "error" in o && o.error.code === FAILED_PRECONDITION;

/** Prints a batch of outcomes (many ids, or filters) and returns the exit code: 1 when a cancel failed. */
function reportOutcomes(io: Io, args: ParsedArgs, outcomes: readonly CancelOutcome[], filtered: boolean): number {
  const failed = outcomes.filter((o) => "error" in o && !(filtered && alreadyEnded(o)));
  const ended = filtered ? outcomes.filter(alreadyEnded) : [];
  const done = outcomes.flatMap((o) => ("response" in o ? [o] : []));
  const canceledCount = done.reduce((n, o) => n + (o.response.task ? 1 : o.response.canceledElements), 0);
  if (boolFlag(args, "json")) {
    printJson(io, {
      canceled: canceledCount,
      tasks: done.flatMap((o) => (o.response.task ? [o.response.task.id] : [])),
      arrays: done.flatMap((o) => (o.response.task ? [] : [{ id: o.ref, canceledElements: o.response.canceledElements }])),
      alreadyEnded: ended.map((o) => o.ref),
      failed: failed.map((o) => ({ id: o.ref, code: "error" in o ? o.error.codeName : "", message: "error" in o ? o.error.details : "" })),
    });
  } else {
    if (!filtered) for (const o of done) io.out(describeCanceled(o.ref, o.response));
    const also = ended.length > 0 ? ` (${ended.length} had ended already)` : "";
    io.out(`canceled ${canceledCount} task${canceledCount === 1 ? "" : "s"}${failed.length > 0 ? `, ${failed.length} failed` : ""}${also}\n`);
    for (const o of failed) if ("error" in o) io.err(`error: ${o.ref}: ${clientErrorText(o.error)}\n`);
  }
  return failed.length > 0 ? 1 : 0;
}

function describeCanceled(ref: string, res: CancelTaskResponse): string {
  return res.task ? `task ${res.task.id} ${stateName(res.task.state)}\n` : `array ${ref}: ${res.canceledElements} elements CANCELED\n`;
}

/**
 * cancel: tasks by id (or unique id prefix), "ID[N]" elements and whole job arrays by their id
 * (the master resolves each), or every task matching filters (listed first, then canceled).
 */
export const cancelCommand: Command = {
  name: "cancel",
  summary: "Cancel tasks by id (or every element of a job array), or every task matching filters",
  usage: "cancel [flags] TASK_ID|ARRAY_ID|ARRAY_ID[N]...\n       taskgrid cancel [flags] --project P|--state S|--label K=V|--array ARRAY_ID",
  flags: {
    ...REASON_FLAG,
    project: { type: "string", value: "PROJECT", description: "with no ids: cancel the tasks of this project" },
    state: {
      type: "string",
      value: "STATE[,STATE]",
      multiple: true,
      description: "with no ids: only tasks in these states (default: every state that has not ended)",
    },
    label: { type: "string", value: "K=V", description: "with no ids: only tasks with this label" },
    array: { type: "string", value: "ARRAY_ID", description: "with no ids: only the elements of this job array" },
    ...CLIENT_FLAGS,
  },
  notes: `Filters combine (every one must match); with filters, cancel prints how many tasks it canceled
and which cancels failed. Exit 1 when any failed.

Examples:
  taskgrid cancel 0192ab 0192cd
  taskgrid cancel --project ml --state queued --label sweep=lr`,
  async run(args: ParsedArgs, io: Io) {
    const filter = cancelFilter(args);
    const ids = args.positionals;
    if (filter && ids.length > 0) throw new UsageError("cancel takes task ids or filters (--project, --state, --label, --array), not both");
    if (!filter && ids.length === 0)
      throw new UsageError("cancel needs task ids, or at least one filter (--project, --state, --label, --array) to cancel every task matching it");
    const reason = stringFlag(args, "reason") ?? "";
    return withClient(args, io, async (client) => {
      if (filter) return reportOutcomes(io, args, await cancelAll(client, await matchingTaskIds(client, filter), reason, CANCELS_IN_FLIGHT), true);
      if (ids.length > 1) return reportOutcomes(io, args, await cancelAll(client, ids, reason, 1), false);
      // One id: its answer as is (--json: the task; for an array the response), a failure as the error.
      const res = await client.cancelTaskOrArray(ids[0], reason);
      if (boolFlag(args, "json")) printJson(io, res.task ? Task.toJSON(res.task) : CancelTaskResponse.toJSON(res));
      else io.out(describeCanceled(ids[0], res));
      return 0;
    });
  },
};
export const pauseCommand = taskVerb("pause", "Pause a running task (SIGSTOP)", (c, id) => c.pauseTask(id), false);
export const resumeCommand = taskVerb("resume", "Resume a paused task (SIGCONT)", (c, id) => c.resumeTask(id), false);

export const undrainCommand: Command = {
  name: "undrain",
  summary: "Place work on a drained worker again",
  usage: "undrain [flags] WORKER_ID",
  flags: { ...CLIENT_FLAGS },
  async run(args, io) {
    const id = onlyId(args, "undrain", "worker id");
    return withClient(args, io, async (client) => {
      const worker = await client.undrainWorker(id);
      if (boolFlag(args, "json")) printJson(io, Worker.toJSON(worker));
      else io.out(`worker ${worker.id} ${workerStatusName(worker.status)}\n`);
      return 0;
    });
  },
};

export const drainCommand: Command = {
  name: "drain",
  summary: "Stop placing new work on a worker; its running work finishes",
  usage: "drain [flags] WORKER_ID",
  flags: { ...REASON_FLAG, ...CLIENT_FLAGS },
  async run(args, io) {
    const id = onlyId(args, "drain", "worker id");
    return withClient(args, io, async (client) => {
      const worker = await client.drainWorker(id, stringFlag(args, "reason") ?? "");
      if (boolFlag(args, "json")) printJson(io, Worker.toJSON(worker));
      else io.out(`worker ${worker.id} ${workerStatusName(worker.status)}\n`);
      return 0;
    });
  },
};
