// The one-shot control verbs: cancel, pause, resume (tasks) and drain (workers).
import { Worker } from "../../gen/taskgrid/v1/admin_service.js";
import { Task } from "../../gen/taskgrid/v1/task.js";
import { CancelTaskResponse } from "../../gen/taskgrid/v1/task_service.js";
import type { TaskgridClient } from "../../client/index.js";
import { boolFlag, stringFlag, type ParsedArgs } from "../args.js";
import { CLIENT_FLAGS, printJson, withClient, type Command, type Io } from "../command.js";
import { stateName, workerStatusName } from "../format.js";
import { UsageError } from "../usage-error.js";

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

/** cancel: a task, "ID[N]", or a whole job array by its id (every element that has not ended). */
export const cancelCommand: Command = {
  name: "cancel",
  summary: "Cancel a task (or every element of a job array) that has not ended",
  usage: "cancel [flags] TASK_ID|ARRAY_ID|ARRAY_ID[N]",
  flags: { ...REASON_FLAG, ...CLIENT_FLAGS },
  async run(args: ParsedArgs, io: Io) {
    const id = onlyId(args, "cancel", "task id");
    return withClient(args, io, async (client) => {
      const res = await client.cancelTaskOrArray(id, stringFlag(args, "reason") ?? "");
      // --json: the task as before; for an array the response (its canceled_elements).
      if (boolFlag(args, "json")) printJson(io, res.task ? Task.toJSON(res.task) : CancelTaskResponse.toJSON(res));
      else if (res.task) io.out(`task ${res.task.id} ${stateName(res.task.state)}\n`);
      else io.out(`array ${id}: ${res.canceledElements} elements CANCELED\n`);
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
