// `taskgrid get ID`: one task with attempts, result, pending reason, "why this worker" and its
// history (each state change with who caused it).
import { Task, TaskEvent } from "../../gen/taskgrid/v1/task.js";
import { boolFlag } from "../args.js";
import { CLIENT_FLAGS, printJson, withClient, type Command } from "../command.js";
import { formatTaskDetail } from "../render-task.js";
import { UsageError } from "../usage-error.js";
import { ClientError } from "../../client/index.js";
import { arrayElements, type ArrayListing } from "../array-refs.js";
import { ArrayProgress } from "../../gen/taskgrid/v1/task_service.js";
import { stateName } from "../format.js";
import { formatTaskTable } from "../render-task.js";

const NOT_FOUND = 5;

/** A job array: its size, elements by state (those not created yet too), then the created elements' table. */
export function formatArraySummary(arrayId: string, listing: ArrayListing, now: Date): string {
  const { tasks, progress } = listing;
  const byState = new Map<string, number>();
  for (const t of tasks) byState.set(stateName(t.state), (byState.get(stateName(t.state)) ?? 0) + 1);
  const counts = [...byState].map(([state, n]) => `${n} ${state}`);
  const notCreated = progress === undefined ? 0 : progress.total - progress.created;
  if (notCreated > 0) counts.push(progress?.canceled ? `${notCreated} CANCELED before they were created` : `${notCreated} not created yet`);
  const total = progress?.total ?? tasks.length;
  return `array ${arrayId}: ${total} elements (${counts.join(", ")}); one of them: ${arrayId}[N]\n${formatTaskTable(tasks, now)}`;
}

/** `get --json`: the task as before, plus its history under "events" (oldest first). */
export function taskJsonWithEvents(task: Task, events: readonly TaskEvent[]): unknown {
  return { ...(Task.toJSON(task) as Record<string, unknown>), events: events.map((e) => TaskEvent.toJSON(e)) };
}

export const getCommand: Command = {
  name: "get",
  summary: "Show a task: state, spec, attempts, result, placement decision and history",
  usage: "get [flags] TASK_ID|ARRAY_ID|ARRAY_ID[N]",
  flags: {
    env: { type: "boolean", description: "print the task's environment variables with their values (by default: their names only)" },
    ...CLIENT_FLAGS,
  },
  notes:
    'History lists every state change, oldest first, with its actor: the token that caused it, "master" for\nthe master\'s own decisions, "-" when not recorded (auth off). --json adds it as "events".\n' +
    "The environment is shown as its count and names: sbatch copies the submitter's whole environment\n" +
    "(secrets included) into the task, so its values are printed only with --env (--json has them all).",
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError("get takes exactly one task id");
    return withClient(args, io, async (client) => {
      const id = args.positionals[0];
      const found = await client.getTaskWithEvents(id).catch(async (err) => {
        // Not a task: maybe a job array (its elements, by index).
        if (!(err instanceof ClientError) || err.code !== NOT_FOUND) throw err;
        const listing = await arrayElements(client, id);
        if (listing.tasks.length === 0 && listing.progress === undefined) throw err;
        return listing;
      });
      if ("tasks" in found) {
        if (boolFlag(args, "json"))
          printJson(io, {
            arrayId: id,
            ...(found.progress ? { progress: ArrayProgress.toJSON(found.progress) } : {}),
            tasks: found.tasks.map((t) => Task.toJSON(t)),
          });
        else io.out(formatArraySummary(id, found, io.now()));
        return 0;
      }
      const { task, events } = found;
      if (boolFlag(args, "json")) printJson(io, taskJsonWithEvents(task, events));
      else io.out(formatTaskDetail(task, io.now(), events, { envValues: boolFlag(args, "env") }));
      return 0;
    });
  },
};
