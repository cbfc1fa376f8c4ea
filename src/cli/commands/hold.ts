// `taskgrid hold ID...` and `taskgrid release ID...` (Slurm's `scontrol hold` / `scontrol release`):
// keep queued tasks from starting, or let held ones (`submit --hold`, `sbatch --hold`) start. An id
// may be a task, "ARRAY_ID[N]", or an array id (its queued elements, and those it creates later).
import { toClientError, type TaskgridClient } from "../../client/index.js";
import type { HoldTaskResponse } from "../../gen/taskgrid/v1/task_service.js";
import { boolFlag } from "../args.js";
import { CLIENT_FLAGS, jsonLine, withClient, type Command } from "../command.js";
import { clientErrorText } from "../error-text.js";
import { UsageError } from "../usage-error.js";

function verb(name: "hold" | "release", summary: string, call: (client: TaskgridClient, id: string) => Promise<HoldTaskResponse>): Command {
  const done = name === "hold" ? "held" : "released";
  return {
    name,
    summary,
    usage: `${name} [flags] TASK_ID|ARRAY_ID|ARRAY_ID[N]...`,
    flags: { ...CLIENT_FLAGS },
    notes:
      name === "hold"
        ? "A held task stays QUEUED (its reason says so) until `taskgrid release`; a task that started cannot be held."
        : "Releasing a task that is not held changes nothing.",
    async run(args, io) {
      if (args.positionals.length === 0) throw new UsageError(`${name} needs at least one task or array id`);
      return withClient(args, io, async (client) => {
        let failed = 0;
        for (const id of args.positionals) {
          try {
            const res = await call(client, id);
            if (boolFlag(args, "json")) jsonLine(io, { id, taskId: res.task?.id ?? "", elements: res.elements });
            else io.out(res.task ? `task ${res.task.id} ${done}\n` : `array ${id}: ${res.elements} elements ${done} (and those it creates later)\n`);
          } catch (err) {
            failed++;
            io.err(`error: ${id}: ${clientErrorText(toClientError(err))}\n`);
          }
        }
        return failed > 0 ? 1 : 0;
      });
    },
  };
}

export const holdCommand = verb("hold", "Keep queued tasks (or a job array's elements) from starting until released", (c, id) => c.holdTask(id));
export const releaseCommand = verb("release", "Let held tasks start (submit --hold, sbatch --hold, taskgrid hold)", (c, id) => c.releaseTask(id));
