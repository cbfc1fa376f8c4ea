// `sbatch -W`: returns only when the job has ended, as Slurm's sbatch --wait does: a task, or every
// element of a job array. Built from submit --wait's parts (followUntilTerminal, its guards against
// an unschedulable task and Ctrl-C, its exit codes), without its live output: sbatch -W prints
// nothing while it waits, and the output is in the -o files or `taskgrid logs`.
import type { TaskgridClient } from "../client/index.js";
import type { TaskEvent, TaskResult } from "../gen/taskgrid/v1/task.js";
import { TaskState } from "../gen/taskgrid/v1/types.js";
import { followArrayToEnd } from "./array-refs.js";
import type { Io } from "./command.js";
import { followUntilTerminal } from "./follow-tasks.js";
import { stateName } from "./format.js";
import { formatResult } from "./render-task.js";
import { reportInterruption, startWaitGuards, waitExitCode } from "./wait-guards.js";

export interface SubmittedJob {
  /** The job id printed: the task's, or the array's. */
  id: string;
  /** The task, or the array's first element (what the guards poll: the elements share one spec). */
  taskId: string;
  /** Whether it is a job array (followed to the end of every index). */
  isArray: boolean;
}

/** Elements that did not succeed named one per line, up to this many; the rest counted. */
const MAX_REASONS = 10;

/**
 * Waits for the job's end and returns sbatch -W's exit code: the task's exit code; for an array the
 * highest of its elements' (Slurm's rule); 130 for a canceled one; 1 for an end without an exit
 * code (timeout, signal, lost). Each element that did not succeed is named on stderr with why.
 */
export async function waitForJob(client: TaskgridClient, io: Io, job: SubmittedJob, options: { unschedulable: boolean }): Promise<number> {
  const guards = startWaitGuards(client, job.taskId, options);
  const following: Promise<Map<string, Ended>> = !job.isArray
    ? followUntilTerminal(client, [job.taskId], () => undefined).then((m) => new Map([...m].map(([id, event]) => [id, { event }])))
    : followArrayToEnd(client, job.id, () => undefined);
  const finished = await Promise.race([following, guards.interruption]).finally(() => guards.stop());
  if (!(finished instanceof Map)) {
    following.catch(() => undefined); // the watch ends with the client; its error says nothing new
    return reportInterruption(io, job.id, finished);
  }
  const ended = [...finished.values()];
  const failed = ended.filter((e) => e.event.state !== TaskState.TASK_STATE_SUCCEEDED).sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  const named = await withResults(client, failed.slice(0, MAX_REASONS));
  for (const { event, result, index } of named) {
    const why = result ? formatResult(result, false) : "";
    io.err(`job ${index === undefined ? job.id : `${job.id}[${index}]`} ${stateName(event.state)}${why ? ` (${why})` : ""}\n`);
  }
  if (failed.length > MAX_REASONS) io.err(`... and ${failed.length - MAX_REASONS} more of ${ended.length} elements did not succeed\n`);
  const results = new Map(named.map((e) => [e.event.taskId, e.result]));
  return ended.reduce((highest, e) => Math.max(highest, waitExitCode(e.event.state, results.get(e.event.taskId) ?? e.event.result)), 0);
}

interface Ended {
  event: TaskEvent;
  /** The element's index, for an array. */
  index?: number;
}

/** Terminal events carry their result as a rule; one without is completed from the task (as submit --wait does). For the elements named only: an array's could be many. */
function withResults(client: TaskgridClient, ended: readonly Ended[]): Promise<Array<Ended & { result: TaskResult | undefined }>> {
  return Promise.all(
    ended.map(async (e) => {
      if (e.event.result || e.event.state === TaskState.TASK_STATE_SUCCEEDED) return { ...e, result: e.event.result };
      return { ...e, result: (await client.getTask(e.event.taskId).catch(() => undefined))?.result };
    }),
  );
}
