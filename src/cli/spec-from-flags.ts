// Turns `submit` flags into a TaskSpec. Pure (now is injected) so every flag is unit-testable;
// server-side rules (limits, defaults) stay on the server, only the form of each value is checked here.
import type { TaskSpecInput } from "../client/index.js";
import { boolFlag, listFlag, stringFlag, type FlagSpecs, type ParsedArgs } from "./args.js";
import {
  parseBoolean,
  parseCpuMillis,
  parseDeadline,
  parseDurationMs,
  parseInteger,
  parseKeyValues,
  parseList,
  parseMemoryMib,
  parseNumber,
  parsePriority,
  parseQueueClass,
  parseSignal,
} from "./parse.js";
import { UsageError } from "./usage-error.js";

export const SPEC_FLAGS: FlagSpecs = {
  name: { type: "string", value: "NAME", description: "human-readable name" },
  project: { type: "string", value: "PROJECT", description: "project (tenant)" },
  label: { type: "string", value: "K=V", multiple: true, description: "label for filtering" },
  queue: { type: "string", value: "live|default|batch", description: "queue class (default: default)" },
  priority: { type: "string", value: "high|normal|low", description: "priority within the queue (default: normal)" },
  cpu: { type: "string", value: "CPU", description: "cores (0.5, 2) or millicores (500m); default 1" },
  mem: { type: "string", value: "MIB", description: "memory in MiB (512) or with a unit (2Gi); default 256" },
  gpus: { type: "string", value: "N", description: "number of whole GPUs" },
  "gpu-model": { type: "string", value: "MODEL", description: "GPU model substring, e.g. H100" },
  "gpu-mem": { type: "string", value: "MIB", description: "minimum memory per GPU (MiB or 40Gi)" },
  tags: { type: "string", value: "A,B", multiple: true, description: "tags a worker must all have" },
  prefer: { type: "string", value: "A,B", multiple: true, description: "tags a worker should preferably have" },
  kind: { type: "string", value: "KIND", description: "task type, for runtime learning and affinity" },
  io: { type: "string", value: "0..1", description: "how IO-heavy the task is" },
  estimate: { type: "string", value: "DURATION", description: "estimated run time, e.g. 30s, 5m, 1500ms" },
  deadline: { type: "string", value: "TIME|+DURATION", description: "deadline: ISO time or +duration from now" },
  timeout: { type: "string", value: "DURATION", description: "kill the attempt after running this long" },
  retries: { type: "string", value: "N", description: "retries after the task's own failures: exit code, start failure, timeout (0..100)" },
  "max-requeues": { type: "string", value: "N", description: "requeues after attempts lost by the infrastructure (default: the master's, 5)" },
  "retry-backoff": { type: "string", value: "DURATION", description: "base of the exponential retry backoff (default: the master's, 1s)" },
  preemptible: {
    type: "string",
    value: "true|false",
    description: "whether higher-ranked work may stop it to take its room (default: true for --queue batch only)",
  },
  "preempt-grace": { type: "string", value: "DURATION", description: "on preemption: time from the signal to SIGKILL (default 30s)" },
  "preempt-signal": { type: "string", value: "SIGNAL", description: "signal sent on preemption: SIGTERM (default), SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2" },
  env: { type: "string", value: "K=V", multiple: true, description: "environment variable for the process" },
  cwd: { type: "string", value: "DIR", description: "working directory on the agent" },
  "idempotency-key": { type: "string", value: "KEY", description: "resubmitting the same key returns the same task" },
  array: {
    type: "string",
    value: "RANGE",
    description:
      "job array: one task per index, e.g. 0-999, 1-99:2, 0,4,8-10; %N runs at most N at once (0-999%10); env TASKGRID_ARRAY_ID, TASKGRID_ARRAY_INDEX",
  },
  after: { type: "string", value: "ID[,ID]", multiple: true, description: "start after these tasks or arrays succeeded (ID, ARRAY_ID or ARRAY_ID[N])" },
  "after-any": { type: "string", value: "ID[,ID]", multiple: true, description: "start after these ended, whatever the outcome" },
  "after-fail": { type: "string", value: "ID[,ID]", multiple: true, description: "start after these failed or were canceled" },
  "keep-invalid-dependency": {
    type: "boolean",
    description: "when a dependency can no longer be met, stay queued with the reason instead of being canceled",
  },
  hold: { type: "boolean", description: "submit held: it stays queued until `taskgrid release ID` (sbatch --hold)" },
};

/** Applies `parse` to a flag's value when the flag was given. */
function opt<T>(args: ParsedArgs, flag: string, parse: (text: string) => T): T | undefined {
  const text = stringFlag(args, flag);
  return text === undefined ? undefined : parse(text);
}

export function specFromFlags(args: ParsedArgs, command: readonly string[], now: Date): TaskSpecInput {
  if (command.length === 0) throw new UsageError("no command given: put it after --, e.g. taskgrid submit -- echo hello");
  const deadline = opt(args, "deadline", (t) => parseDeadline(t, "deadline", now));
  return {
    name: stringFlag(args, "name") ?? "",
    project: stringFlag(args, "project") ?? "",
    labels: parseKeyValues(listFlag(args, "label"), "label"),
    queueClass: opt(args, "queue", (t) => parseQueueClass(t)) ?? 0,
    priority: opt(args, "priority", (t) => parsePriority(t)) ?? 0,
    command: [...command],
    env: parseKeyValues(listFlag(args, "env"), "env"),
    workingDir: stringFlag(args, "cwd") ?? "",
    resources: {
      cpuMillis: opt(args, "cpu", (t) => parseCpuMillis(t, "cpu")) ?? 0,
      memoryMib: opt(args, "mem", (t) => parseMemoryMib(t, "mem")) ?? 0,
      gpuCount: opt(args, "gpus", (t) => parseInteger(t, "gpus", 0, 1024)) ?? 0,
      gpuModel: stringFlag(args, "gpu-model") ?? "",
      gpuMemoryMib: opt(args, "gpu-mem", (t) => parseMemoryMib(t, "gpu-mem")) ?? 0,
    },
    requiredTags: parseList(listFlag(args, "tags")),
    preferredTags: parseList(listFlag(args, "prefer")),
    kind: stringFlag(args, "kind") ?? "",
    ioIntensity: opt(args, "io", (t) => parseNumber(t, "io", 0, 1)) ?? 0,
    estimateMs: opt(args, "estimate", (t) => parseDurationMs(t, "estimate")) ?? 0,
    ...(deadline ? { deadline } : {}),
    timeoutMs: opt(args, "timeout", (t) => parseDurationMs(t, "timeout")) ?? 0,
    maxRetries: opt(args, "retries", (t) => parseInteger(t, "retries", 0, 100)) ?? 0,
    ...defined(
      "maxRequeues",
      opt(args, "max-requeues", (t) => parseInteger(t, "max-requeues", 0, 1000)),
    ),
    ...defined(
      "retryBackoffMs",
      opt(args, "retry-backoff", (t) => parseDurationMs(t, "retry-backoff")),
    ),
    idempotencyKey: stringFlag(args, "idempotency-key") ?? "",
    ...definedBool(
      "preemptible",
      opt(args, "preemptible", (t) => parseBoolean(t, "preemptible")),
    ),
    ...defined(
      "preemptGraceMs",
      opt(args, "preempt-grace", (t) => parseDurationMs(t, "preempt-grace")),
    ),
    ...(stringFlag(args, "preempt-signal") === undefined ? {} : { preemptSignal: parseSignal(stringFlag(args, "preempt-signal")!, "preempt-signal") }),
    ...arrayAndDependencies(args),
  };
}

/** --array and the dependency flags; the master checks the range and that the ids exist. */
function arrayAndDependencies(args: ParsedArgs): Pick<TaskSpecInput, "array" | "after" | "afterAny" | "afterFail" | "keepInvalidDependency" | "hold"> {
  const array = stringFlag(args, "array");
  if (array !== undefined && array.trim() === "") throw new UsageError("--array needs a range, e.g. 0-999 or 0-999%10");
  const after = parseList(listFlag(args, "after"));
  const afterAny = parseList(listFlag(args, "after-any"));
  const afterFail = parseList(listFlag(args, "after-fail"));
  return {
    ...(array === undefined ? {} : { array }),
    ...(after.length > 0 ? { after } : {}),
    ...(afterAny.length > 0 ? { afterAny } : {}),
    ...(afterFail.length > 0 ? { afterFail } : {}),
    ...(boolFlag(args, "keep-invalid-dependency") ? { keepInvalidDependency: true } : {}),
    ...(boolFlag(args, "hold") ? { hold: true } : {}),
  };
}

function definedBool<K extends string>(key: K, value: boolean | undefined): { [P in K]?: boolean } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: boolean };
}

/** `{ [key]: value }` when the flag was given, else nothing (unset means the master's default). */
function defined<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}
