// `taskgrid watch ID...`: stream state and progress events until every watched task has ended.
// Without ids it streams every task's events (optionally of one project) until interrupted.
import { TaskEvent } from "../../gen/taskgrid/v1/task.js";
import { boolFlag, stringFlag } from "../args.js";
import { CLIENT_FLAGS, jsonLine, withClient, type Command, type Io } from "../command.js";
import { formatEventLine } from "../render-task.js";
import { followUntilTerminal } from "../follow-tasks.js";
import { expandTaskRefs } from "../array-refs.js";
import type { TaskState } from "../../gen/taskgrid/v1/types.js";

/** Event printer for stdout: one JSON document per line, or one human line per event. */
function eventSink(io: Io, json: boolean): (e: TaskEvent) => void {
  const states = new Map<string, TaskState>();
  return (e) => {
    if (json) jsonLine(io, TaskEvent.toJSON(e));
    else io.out(`${(e.time ?? io.now()).toISOString()}  ${formatEventLine(e, states.get(e.taskId))}\n`);
    states.set(e.taskId, e.state);
  };
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
    const sink = eventSink(io, boolFlag(args, "json"));
    return withClient(args, io, async (client) => {
      if (args.positionals.length > 0) {
        // An array id stands for all its elements; "ID[N]" for one.
        await followUntilTerminal(client, await expandTaskRefs(client, args.positionals), sink);
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
      return 0;
    });
  },
};
