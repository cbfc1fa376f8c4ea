// `taskgrid sbatch [options] SCRIPT [ARGS...]`: a Slurm batch script, unchanged: its #SBATCH lines
// and sbatch's common options on the command line, submitted as one task (or a job array) that runs
// the script on an agent. Prints "Submitted batch job ID" like sbatch (--parsable: the id alone);
// with -W, then waits for the job's end and exits with its exit code. Without a script (or with
// "-") the script is read from stdin, as sbatch does.
import { hostname } from "node:os";
import { SubmitTaskResponse } from "../../gen/taskgrid/v1/task_service.js";
import { boolFlag } from "../args.js";
import { CLIENT_FLAGS, printJson, withClient, type Command, type Io } from "../command.js";
import { readJobScript, readStdinJobScript, type JobScript } from "../job-script.js";
import { leadingSettings, sbatchFlagSpecs, settingsFromArgs } from "../sbatch-options.js";
import { sbatchJob, wrapJobScript, type SubmitterContext } from "../sbatch-job.js";
import { waitForJob } from "../sbatch-wait.js";
import { UsageError } from "../usage-error.js";

const NO_SCRIPT = 'no job script given: taskgrid sbatch job.sh, taskgrid sbatch < job.sh, or taskgrid sbatch --wrap "command"';

export const sbatchCommand: Command = {
  name: "sbatch",
  summary: "Submit a Slurm batch script unchanged (#SBATCH lines, sbatch's options); prints its job id",
  usage: "sbatch [options] [SCRIPT|-] [ARGS...]   or   sbatch [options] --wrap COMMAND",
  flags: {
    ...sbatchFlagSpecs(),
    "wait-unschedulable": { type: "boolean", description: "with -W: keep waiting on a job no connected worker can run (else exit 2 at once)" },
    ...CLIENT_FLAGS,
  },
  parseOptions: { stopAtPositional: true },
  notes: `Examples:
  taskgrid sbatch job.sh
  taskgrid sbatch --array=1-100%10 --gres=gpu:1 -t 10:00 -o 'out/%A_%a.txt' job.sh
  taskgrid sbatch --parsable --dependency=afterok:$(taskgrid sbatch --parsable prep.sh) train.sh
  taskgrid sbatch -c 4 --mem 8G --wrap 'python train.py'
  generate-job | taskgrid sbatch -c 2      (no SCRIPT, or "-": the script comes on stdin)
  taskgrid sbatch -W job.sh && echo done   (-W: returns when the job has ended, with its exit code)
The script travels with the task (agents need not share your files); the command line's options
replace the script's. It runs in the directory sbatch was called from (or -D) on the agent, with
your environment (--export=ALL; TASKGRID_* and PWD, OLDPWD, SHLVL, _ stay behind) and SLURM_JOB_ID,
SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID, SLURM_SUBMIT_DIR, SLURM_JOB_NAME set. Without -o/-e the
output stays in Taskgrid's logs: taskgrid logs ID. A partition named live, default or batch is
that queue class; any other is a tag the worker must have. Unsupported options are an error naming
the line; a few harmless ones (--mail-type, --qos, ...) are ignored with a warning.
-W prints nothing more while it waits; it exits with the job's exit code (an array: the highest of its
elements'), 130 when canceled, 1 for an end without one (time limit, signal), naming on stderr each
element that did not succeed; 2 at once when no connected worker can run the job
(--wait-unschedulable waits anyway); Ctrl-C leaves the job running.`,

  async run(args, io) {
    // The common parser leaves attached short forms (-t10) and everything after them to `rest`.
    const { settings: attached, rest } = leadingSettings(args.rest, null, "option");
    const commandLine = [...settingsFromArgs(args), ...attached];
    const wrap = commandLine.find((s) => s.option.long === "wrap");
    if (wrap && rest.length > 0) throw new UsageError(`--wrap runs its command instead of a script: drop "${rest[0]}" or --wrap`);
    const script = wrap ? wrapJobScript(wrap.value) : await jobScript(rest[0], io);
    if (script.dosLineBreaks) io.err(`${script.path}: DOS line breaks (\\r\\n) read as \\n\n`);
    const ctx: SubmitterContext = { cwd: process.cwd(), env: io.env, host: hostname() };
    const job = sbatchJob(script, wrap ? [] : rest.slice(1), commandLine, ctx);
    for (const warning of job.warnings) io.err(`warning: ${warning}\n`);
    return withClient(args, io, async (client) => {
      const submitted = await client.submitTask(job.spec);
      const id = submitted.task.arrayId || submitted.task.id;
      if (boolFlag(args, "json")) printJson(io, SubmitTaskResponse.toJSON(submitted));
      else io.out(job.parsable ? `${id}\n` : `Submitted batch job ${id}\n`);
      if (!job.wait) return 0;
      const submittedJob = { id, taskId: submitted.task.id, isArray: job.spec.array !== undefined };
      return waitForJob(client, io, submittedJob, { unschedulable: !boolFlag(args, "wait-unschedulable") });
    });
  },
};

/** The script named on the command line, or with none (or "-") the one on stdin. */
function jobScript(path: string | undefined, io: Io): Promise<JobScript> | JobScript {
  return path === undefined || path === "-" ? readStdinJobScript(io.stdin, NO_SCRIPT) : readJobScript(path);
}
