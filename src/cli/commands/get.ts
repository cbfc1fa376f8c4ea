// `taskgrid get ID`: one task with attempts, result, pending reason and "why this worker".
import { Task } from "../../gen/taskgrid/v1/task.js";
import { boolFlag } from "../args.js";
import { CLIENT_FLAGS, printJson, withClient, type Command } from "../command.js";
import { formatTaskDetail } from "../render-task.js";
import { UsageError } from "../usage-error.js";

export const getCommand: Command = {
  name: "get",
  summary: "Show a task: state, spec, attempts, result and placement decision",
  usage: "get [flags] TASK_ID",
  flags: { ...CLIENT_FLAGS },
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError("get takes exactly one task id");
    return withClient(args, io, async (client) => {
      const task = await client.getTask(args.positionals[0]);
      if (boolFlag(args, "json")) printJson(io, Task.toJSON(task));
      else io.out(formatTaskDetail(task, io.now()));
      return 0;
    });
  },
};
