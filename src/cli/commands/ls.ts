// `taskgrid ls`: tasks newest first, filtered, one page or (--all) every page.
import type { Task } from "../../gen/taskgrid/v1/task.js";
import { type ListTasksRequest, ListTasksResponse } from "../../gen/taskgrid/v1/task_service.js";
import { boolFlag, listFlag, stringFlag } from "../args.js";
import { CLIENT_FLAGS, printJson, withClient, type Command } from "../command.js";
import { parseInteger, parseKeyValue, parseQueueClass, parseTaskStates } from "../parse.js";
import { formatTaskTable } from "../render-task.js";

const MAX_PAGE_SIZE = 1000;

export const lsCommand: Command = {
  name: "ls",
  summary: "List tasks, newest first",
  usage: "ls [flags]",
  flags: {
    state: { type: "string", value: "STATE[,STATE]", multiple: true, description: "only tasks in these states (queued, running, failed, ...)" },
    queue: { type: "string", value: "live|default|batch", description: "only tasks of this queue class" },
    project: { type: "string", value: "PROJECT", description: "only tasks of this project" },
    label: { type: "string", value: "K=V", description: "only tasks with this label" },
    array: { type: "string", value: "ARRAY_ID", description: "only the elements of this job array" },
    limit: { type: "string", value: "N", description: "at most N tasks (default 100)" },
    all: { type: "boolean", description: "follow every page (up to --limit when given)" },
    ...CLIENT_FLAGS,
  },
  async run(args, io) {
    const limitText = stringFlag(args, "limit");
    const limit = limitText === undefined ? undefined : parseInteger(limitText, "limit", 1);
    const label = stringFlag(args, "label");
    const queue = stringFlag(args, "queue");
    const base: Partial<ListTasksRequest> = {
      states: parseTaskStates(listFlag(args, "state")),
      queueClass: queue === undefined ? 0 : parseQueueClass(queue),
      project: stringFlag(args, "project") ?? "",
      label: label === undefined ? "" : parseKeyValue(label, "label").join("="),
      arrayId: stringFlag(args, "array") ?? "",
    };
    const all = boolFlag(args, "all");
    const max = limit ?? (all ? Infinity : 100);

    return withClient(args, io, async (client) => {
      const tasks: Task[] = [];
      let pageToken = "";
      let nextPageToken = "";
      do {
        const pageSize = Math.min(MAX_PAGE_SIZE, max - tasks.length);
        const page = await client.listTasks({ ...base, pageSize, pageToken });
        tasks.push(...page.tasks.slice(0, max - tasks.length));
        nextPageToken = page.nextPageToken;
        pageToken = nextPageToken;
      } while (all && pageToken && tasks.length < max);

      if (boolFlag(args, "json")) {
        printJson(io, ListTasksResponse.toJSON({ tasks, nextPageToken: tasks.length >= max ? nextPageToken : "" }));
      } else {
        io.out(formatTaskTable(tasks, io.now()));
        if (nextPageToken && !all) io.err(`(more tasks: use --all or --limit)\n`);
      }
      return 0;
    });
  },
};
