// `taskgrid watch ID...`: stream state and progress events until every watched task has ended.
// Without ids it streams every task's events (optionally of one project) until interrupted.
import { TaskEvent } from "../../gen/taskgrid/v1/task.js";
import { boolFlag, stringFlag } from "../args.js";
import { CLIENT_FLAGS, jsonLine, withClient, type Command, type Io } from "../command.js";
import type { TaskgridClient } from "../../client/index.js";
import { deadlineNote, formatEventLine, isTerminal } from "../render-task.js";
import { followUntilTerminal } from "../follow-tasks.js";
import { followArrayToEnd, splitTaskRefs } from "../array-refs.js";
import type { TaskState } from "../../gen/taskgrid/v1/types.js";

/**
 * Event printer for stdout: one JSON document per line, or one human line per event. A task's
 * terminal line says when it missed its deadline (" (deadline missed by 3m)", as `get` shows it):
 * events carry no deadline, so the task is fetched then, while later lines wait their turn.
 */
function eventSink(io: Io, json: boolean, client: TaskgridClient): { sink: (e: TaskEvent) => void; drained: () => Promise<void> } {
  const states = new Map<string, TaskState>();
  let printed: Promise<void> = Promise.resolve();
  const sink = (e: TaskEvent) => {
    if (json) return jsonLine(io, TaskEvent.toJSON(e));
    const line = `${(e.time ?? io.now()).toISOString()}  ${formatEventLine(e, states.get(e.taskId))}`;
    states.set(e.taskId, e.state);
    const note = isTerminal(e.state) ? missedDeadlineNote(client, e, io.now()) : "";
    printed = printed.then(async () => io.out(`${line}${await note}\n`));
  };
  return { sink, drained: () => printed };
}

/** " (deadline missed by 3m)" for a task that ended past its deadline; "" otherwise, or when it cannot be read. */
async function missedDeadlineNote(client: TaskgridClient, e: TaskEvent, now: Date): Promise<string> {
  try {
    const task = await client.getTask(e.taskId);
    return task.deadlineMissed ? deadlineNote(task, e.time ?? now) : "";
  } catch {
    return ""; // the line without its note: the watch itself goes on
  }
}

export const watchCommand: Command = {
  name: "watch",
  summary: "Stream task events until the given tasks have ended",
  usage: "watch [flags] [TASK_ID|ARRAY_ID|ARRAY_ID[N]...]",
  flags: {
    project: { type: "string", value: "PROJECT", description: "with no ids: only events of this project" },
    ...CLIENT_FLAGS,
  },
  notes: "With no task ids, every task's events are streamed until Ctrl-C.",
  async run(args, io) {
    return withClient(args, io, async (client) => {
      const { sink, drained } = eventSink(io, boolFlag(args, "json"), client);
      if (args.positionals.length > 0) {
        // An array id stands for all its elements, those created later too; "ID[N]" for one.
        const { taskIds, arrayIds } = await splitTaskRefs(client, args.positionals);
        await Promise.all([
          taskIds.length > 0 ? followUntilTerminal(client, taskIds, sink) : undefined,
          ...arrayIds.map((arrayId) => followArrayToEnd(client, arrayId, sink)),
        ]);
        await drained();
        return 0;
      }
      const watch = client.watchTasks({ project: stringFlag(args, "project") ?? "" });
      const stop = () => watch.cancel();
      process.once("SIGINT", stop);
      try {
        for await (const event of watch) sink(event);
      } finally {
        process.off("SIGINT", stop);
      }
      await drained();
      return 0;
    });
  },
};
