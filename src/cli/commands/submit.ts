// `taskgrid submit [flags] -- cmd args...`: submit one task; with --wait follow it to the end,
// print its output tail and exit with its exit code (so it composes in shell scripts).
import { Task } from "../../gen/taskgrid/v1/task.js";
import { SubmitTaskResponse } from "../../gen/taskgrid/v1/task_service.js";
import type { TaskSpecInput } from "../../client/index.js";
import { boolFlag } from "../args.js";
import { CLIENT_FLAGS, printJson, withClient, type Command } from "../command.js";
import { EventPrinter, followUntilTerminal } from "../follow-tasks.js";
import { formatDuration } from "../format.js";
import { SPEC_FLAGS } from "../spec-from-flags.js";
import { submitSpec } from "../taskgrid-script.js";
import { UsageError } from "../usage-error.js";
import { LiveOutput } from "./logs.js";
import { reportInterruption, startWaitGuards, waitExitCode } from "../wait-guards.js";

/** A warning when the deadline comes before the estimated run could end (the master accepts it: it may run sooner than estimated). */
export function deadlineWarning(spec: TaskSpecInput, now: Date): string | undefined {
  if (!spec.deadline || !spec.estimateMs) return undefined;
  const leftMs = spec.deadline.getTime() - now.getTime();
  if (leftMs <= 0 || leftMs >= spec.estimateMs) return undefined; // a past deadline: the master's INVALID_ARGUMENT says it
  return `warning: the deadline is in ${formatDuration(leftMs)} but the estimate is ${formatDuration(spec.estimateMs)}: it will likely be missed\n`;
}

export const submitCommand: Command = {
  name: "submit",
  summary: "Submit a task; prints its id (with --wait: runs it to the end and exits with its exit code)",
  usage: "submit [flags] -- COMMAND [ARGS...]   or   submit [flags] SCRIPT [ARGS...]",
  flags: {
    ...SPEC_FLAGS,
    wait: { type: "boolean", description: "follow the task, print its output and exit with its exit code" },
    "wait-unschedulable": { type: "boolean", description: "with --wait: keep waiting on a task no connected worker can run (else exit 2 at once)" },
    ...CLIENT_FLAGS,
  },
  parseOptions: { stopAtPositional: true },
  notes: `Examples:
  taskgrid submit --wait -- echo hello
  taskgrid submit --queue live --priority high --gpus 1 --gpu-model H100 --estimate 5m -- python train.py
  taskgrid submit --label team=ml --env SEED=1 --deadline +30m -- ./report.sh
  taskgrid submit --gpus 2 job.sh    (a job script: its #TASKGRID lines are flags, these replace them)
A SCRIPT (a text file here, starting with #!) travels with the task and runs on the agent with its
interpreter; lines like '#TASKGRID --gpus 1 --queue batch' before its first command are flags.
With TRACEPARENT (W3C trace context) in the environment, the task joins that trace.
--wait exits with the task's exit code; 130 when it was canceled; 2 at once, with the reason on
stderr, when no connected worker can ever run it (--wait-unschedulable keeps waiting); and 130 on
Ctrl-C, which leaves the task running (follow it with 'taskgrid watch ID').`,

  async run(args, io) {
    const spec = submitSpec(args, io); // a command, or a job script with #TASKGRID lines
    const json = boolFlag(args, "json");
    if (spec.array !== undefined && boolFlag(args, "wait")) throw new UsageError("--wait follows one task: for an array, taskgrid watch ARRAY_ID");
    return withClient(args, io, async (client) => {
      const warning = deadlineWarning(spec, io.now()); // measured before the call's round trip
      const submitted = await client.submitTask(spec);
      if (warning) io.err(warning);
      // An array is known by its array id (its first element is what the response carries).
      const id = submitted.task.arrayId || submitted.task.id;
      if (!boolFlag(args, "wait")) {
        if (json) printJson(io, SubmitTaskResponse.toJSON(submitted));
        else io.out(`${id}${submitted.existing ? " (existing task for this idempotency key)" : ""}\n`);
        return 0;
      }

      io.err(`task ${id} submitted\n`);
      const printer = new EventPrinter(io, io.errIsTTY);
      // The task's output as it runs (not with --json, whose stdout is the task's JSON).
      const live = json ? null : new LiveOutput(client, io, id);
      const guards = startWaitGuards(client, id, { unschedulable: !boolFlag(args, "wait-unschedulable") });
      const following = followUntilTerminal(client, [id], (e) => {
        printer.print(e);
        live?.onEvent(e);
      });
      const finished = await Promise.race([following, guards.interruption]).finally(() => guards.stop());
      printer.clearBar();
      if (!(finished instanceof Map)) {
        following.catch(() => undefined); // the watch ends with the client; its error says nothing new
        return reportInterruption(io, id, finished);
      }
      const streamed = (await live?.streamed()) ?? false;
      const last = finished.get(id)!;
      // The terminal event usually carries the result; fetch the task when it does not (or for --json).
      const task = json || !last.result ? await client.getTask(id) : undefined;
      const result = last.result ?? task?.result;
      if (json) printJson(io, Task.toJSON(task!));
      else if (result?.outputTail && !streamed) io.out(result.outputTail);
      return waitExitCode(last.state, result);
    });
  },
};
