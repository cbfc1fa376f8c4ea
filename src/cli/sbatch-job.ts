// `taskgrid sbatch`'s job: a script (or --wrap's command), its #SBATCH lines and the command
// line's options, turned into one TaskSpec that runs the script on an agent as sbatch would run it.
// Pure: the submitter's directory, environment and host are passed in.
import { resolve } from "node:path";
import type { TaskSpecInput } from "../client/index.js";
import { QueueClass } from "../gen/taskgrid/v1/types.js";
import { directives, type JobScript } from "./job-script.js";
import { checkTaskSize, outputWord, wrapScript } from "./job-wrapper.js";
import { resolveSettings, settingsFromWords, settingValue, type Resolved, type Setting } from "./sbatch-options.js";
import {
  checkOne,
  constraintTags,
  exportedEnv,
  parseCpusPerTask,
  parseDependency,
  parseGpus,
  parseGres,
  parseSlurmMemoryMib,
  parseSlurmTimeMs,
  partitionTarget,
} from "./sbatch-values.js";
import { UsageError } from "./usage-error.js";

export interface SubmitterContext {
  /** Where sbatch runs: the default working directory, and what -D is relative to. */
  cwd: string;
  env: Record<string, string | undefined>;
  host: string;
}

export interface SbatchJob {
  spec: TaskSpecInput;
  parsable: boolean;
  /** -W/--wait: return only when the job has ended. */
  wait: boolean;
  /** Options accepted but ignored, one line each. */
  warnings: string[];
}

/** The script sbatch makes of --wrap: the command under /bin/sh. */
export function wrapJobScript(command: string): JobScript {
  return { path: "--wrap", name: "wrap", content: `#!/bin/sh\n${command}\n`, dosLineBreaks: false, interpreter: "/bin/sh", interpreterArg: null };
}

/** The #SBATCH lines of a script as settings (each naming its file and line). */
export function scriptSettings(script: JobScript): Setting[] {
  return directives(script, "#SBATCH").flatMap((d) => settingsFromWords(d.words, `${script.path}:${d.line}`));
}

export function sbatchJob(script: JobScript, args: readonly string[], commandLine: readonly Setting[], ctx: SubmitterContext): SbatchJob {
  const { resolved: r, warnings } = resolveSettings(scriptSettings(script), commandLine);
  if (r.nodes) settingValue(r.nodes, (t, f) => checkOne(t, f, "process on one machine"));
  if (r.ntasks) settingValue(r.ntasks, (t, f) => checkOne(t, f, "process"));
  if (r.ntasksPerNode) settingValue(r.ntasksPerNode, (t, f) => checkOne(t, f, "process"));
  const name = r.name ? r.name.value : script.name;
  const cpus = r.cpus ? settingValue(r.cpus, parseCpusPerTask) : undefined;
  const timeoutMs = r.time ? settingValue(r.time, parseSlurmTimeMs) : 0;
  const gpus = r.gpus ? settingValue(r.gpus, r.gpus.option.long === "gres" ? parseGres : parseGpus) : { count: 0, model: "" };
  const place = placement(r);
  const workingDir = r.chdir ? resolve(ctx.cwd, r.chdir.value) : ctx.cwd;
  const env = {
    ...(r.export ? settingValue(r.export, (t, f) => exportedEnv(t, ctx.env, f)) : exportedEnv("ALL", ctx.env)),
    ...slurmEnv(name, ctx, cpus),
  };
  const pattern = { jobName: name, user: ctx.env.USER ?? "" };
  const wrapped = wrapScript({
    script,
    args,
    stdoutWord: r.output ? settingValue(r.output, (t, f) => outputWord(t, pattern, f)) : undefined,
    stderrWord: r.error ? settingValue(r.error, (t, f) => outputWord(t, pattern, f)) : undefined,
    append: r.openMode ? settingValue(r.openMode, parseOpenMode) : false,
    slurmIds: true,
  });
  const taskEnv = { ...env, ...wrapped.env };
  checkTaskSize(script, wrapped.command, taskEnv);
  const spec: TaskSpecInput = {
    name,
    project: r.account?.value ?? "",
    command: wrapped.command,
    env: taskEnv,
    workingDir,
    queueClass: place.queueClass,
    requiredTags: place.tags,
    resources: {
      cpuMillis: cpus === undefined ? 0 : cpus * 1000,
      memoryMib: memoryMib(r, cpus),
      gpuCount: gpus.count,
      gpuModel: gpus.count > 0 ? gpus.model : "",
    },
    // Slurm's time limit is also what its backfill plans with: Taskgrid's estimate.
    timeoutMs,
    estimateMs: timeoutMs,
    ...dependencies(r),
    ...(r.requeue?.option.long === "no-requeue" ? { maxRequeues: 0 } : {}),
    ...(r.hold ? { hold: true } : {}),
  };
  if (r.array) {
    if (r.array.value.trim() === "") throw new UsageError(`${r.array.where ? `${r.array.where}: ` : ""}--array needs a range, e.g. 1-100%10`);
    spec.array = r.array.value.trim();
  }
  return { spec, parsable: r.parsable !== undefined, wait: r.wait !== undefined, warnings };
}

function placement(r: Resolved): { queueClass: QueueClass; tags: string[] } {
  const tags = r.constraint ? settingValue(r.constraint, constraintTags) : [];
  if (!r.partition) return { queueClass: QueueClass.QUEUE_CLASS_UNSPECIFIED, tags };
  const target = settingValue(r.partition, partitionTarget);
  return "tag" in target ? { queueClass: QueueClass.QUEUE_CLASS_UNSPECIFIED, tags: [...tags, target.tag] } : { queueClass: target.queueClass, tags };
}

function memoryMib(r: Resolved, cpus: number | undefined): number {
  if (!r.memory) return 0;
  const mib = settingValue(r.memory, parseSlurmMemoryMib);
  return r.memory.option.long === "mem-per-cpu" ? mib * (cpus ?? 1) : mib;
}

function dependencies(r: Resolved): Pick<TaskSpecInput, "after" | "afterAny" | "afterFail" | "keepInvalidDependency"> {
  const deps = r.dependency ? settingValue(r.dependency, parseDependency) : { after: [], afterAny: [], afterFail: [] };
  const keep = r.killOnInvalidDep ? settingValue(r.killOnInvalidDep, parseYesNo) === false : false;
  return {
    ...(deps.after.length > 0 ? { after: deps.after } : {}),
    ...(deps.afterAny.length > 0 ? { afterAny: deps.afterAny } : {}),
    ...(deps.afterFail.length > 0 ? { afterFail: deps.afterFail } : {}),
    ...(keep ? { keepInvalidDependency: true } : {}),
  };
}

/**
 * The SLURM_* variables a Slurm script commonly reads that are known at submission; the ids
 * (SLURM_JOB_ID, SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID) are set by the wrapper on the agent.
 */
function slurmEnv(name: string, ctx: SubmitterContext, cpus: number | undefined): Record<string, string> {
  return {
    SLURM_JOB_NAME: name,
    SLURM_SUBMIT_DIR: ctx.cwd,
    SLURM_SUBMIT_HOST: ctx.host,
    SLURM_NNODES: "1",
    SLURM_NTASKS: "1",
    ...(cpus === undefined ? {} : { SLURM_CPUS_PER_TASK: String(cpus) }),
  };
}

function parseOpenMode(text: string, flag: string): boolean {
  const mode = text.trim().toLowerCase();
  if (mode === "append" || mode === "a") return true;
  if (mode === "truncate" || mode === "t") return false;
  throw new UsageError(`--${flag}: "${text}" is not append or truncate`);
}

function parseYesNo(text: string, flag: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === "yes" || t === "y") return true;
  if (t === "no" || t === "n") return false;
  throw new UsageError(`--${flag}: "${text}" is not yes or no`);
}
