// `taskgrid get ID`: one task with attempts, result, pending reason, "why this worker" and its
// history (each state change with who caused it).
import { Task, TaskEvent } from "../../gen/taskgrid/v1/task.js";
import { boolFlag } from "../args.js";
import { CLIENT_FLAGS, printJson, withClient, type Command } from "../command.js";
import { formatTaskDetail } from "../render-task.js";
import { UsageError } from "../usage-error.js";

/** `get --json`: the task as before, plus its history under "events" (oldest first). */
export function taskJsonWithEvents(task: Task, events: readonly TaskEvent[]): unknown {
  return { ...(Task.toJSON(task) as Record<string, unknown>), events: events.map((e) => TaskEvent.toJSON(e)) };
}

export const getCommand: Command = {
  name: "get",
  summary: "Show a task: state, spec, attempts, result, placement decision and history",
  usage: "get [flags] TASK_ID",
  flags: { ...CLIENT_FLAGS },
  notes:
    'History lists every state change, oldest first, with its actor: the token that caused it, "master" for\nthe master\'s own decisions, "-" when not recorded (auth off). --json adds it as "events".',
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError("get takes exactly one task id");
    return withClient(args, io, async (client) => {
      const { task, events } = await client.getTaskWithEvents(args.positionals[0]);
      if (boolFlag(args, "json")) printJson(io, taskJsonWithEvents(task, events));
      else io.out(formatTaskDetail(task, io.now(), events));
      return 0;
    });
  },
};
