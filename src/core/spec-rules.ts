// Validation and defaults for a submitted TaskSpec. Runs at the edge (every submit) so bad input is
// rejected with a message naming the field and the rule, before anything is written.
import { InvalidArgumentError } from "./errors.js";
import { noNul } from "./text-rules.js";
import type { TaskSpec } from "./types.js";

export const LIMITS = {
  maxPayloadBytes: 1024 * 1024, // command args + env together
  maxCpuMillis: 1_000_000, // 1,000 cores
  maxMemoryMib: 64 * 1024 * 1024, // 64 TiB
  maxGpus: 64,
  maxGpuMemoryMib: 1024 * 1024,
  maxDurationMs: 366 * 24 * 3600 * 1000,
  maxRetries: 100,
  maxRequeues: 1000,
  maxNameLength: 256,
  maxKeyLength: 256,
  maxTags: 64,
  maxLabels: 64,
} as const;

/** Signals a task may ask to be preempted with (it must be able to catch it: not SIGKILL or SIGSTOP). */
export const PREEMPT_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;
export const DEFAULT_PREEMPT_GRACE_MS = 30_000;
export const MAX_PREEMPT_GRACE_MS = 3600 * 1000;

export const DEFAULT_CPU_MILLIS = 1000;
export const DEFAULT_MEMORY_MIB = 256;

const encoder = new TextEncoder();
function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

function check(condition: boolean, field: string, rule: string): void {
  if (!condition) throw new InvalidArgumentError(field, rule);
}

function checkInt(value: number, field: string, min: number, max: number): void {
  check(Number.isFinite(value) && Number.isInteger(value), field, "must be a whole number");
  check(value >= min, field, `must be >= ${min} (got ${value})`);
  check(value <= max, field, `must be <= ${max} (got ${value})`);
}

function checkStrings(values: readonly string[], field: string, maxCount: number): void {
  check(values.length <= maxCount, field, `at most ${maxCount} entries`);
  values.forEach((v, i) => check(v.length > 0 && v.length <= LIMITS.maxKeyLength, `${field}[${i}]`, `must be 1..${LIMITS.maxKeyLength} characters`));
}

/** Fills zero-valued resources with defaults. Returns a new spec. */
export function withDefaults(spec: TaskSpec): TaskSpec {
  return {
    ...spec,
    resources: {
      ...spec.resources,
      cpuMillis: spec.resources.cpuMillis === 0 ? DEFAULT_CPU_MILLIS : spec.resources.cpuMillis,
      memoryMib: spec.resources.memoryMib === 0 ? DEFAULT_MEMORY_MIB : spec.resources.memoryMib,
    },
  };
}

/**
 * Every string of the spec, NUL-free: the spec is stored as text and jsonb, which cannot hold NUL
 * (see text-rules.ts). Checked before the other rules so a NUL is reported as such. Map keys are
 * quoted with JSON.stringify, so the NUL shows as \u0000 in the message.
 */
function checkNoNul(spec: TaskSpec, f: (name: string) => string): void {
  noNul(f("name"), spec.name);
  noNul(f("project"), spec.project);
  for (const [k, v] of Object.entries(spec.labels)) {
    noNul(`${f("labels")} key ${JSON.stringify(k)}`, k);
    noNul(`${f("labels")}[${JSON.stringify(k)}]`, v);
  }
  spec.command.forEach((arg, i) => noNul(`${f("command")}[${i}]`, arg));
  for (const [k, v] of Object.entries(spec.env)) {
    noNul(`${f("env")} key ${JSON.stringify(k)}`, k);
    noNul(`${f("env")}[${JSON.stringify(k)}]`, v);
  }
  noNul(f("working_dir"), spec.workingDir);
  noNul(f("resources.gpu_model"), spec.resources.gpuModel);
  spec.requiredTags.forEach((tag, i) => noNul(`${f("required_tags")}[${i}]`, tag));
  spec.preferredTags.forEach((tag, i) => noNul(`${f("preferred_tags")}[${i}]`, tag));
  noNul(f("kind"), spec.kind);
  noNul(f("idempotency_key"), spec.idempotencyKey);
}

/** Throws InvalidArgumentError naming the first field that breaks a rule. `prefix` e.g. "spec". */
export function validateSpec(spec: TaskSpec, prefix = "spec"): void {
  const f = (name: string) => `${prefix}.${name}`;
  checkNoNul(spec, f);
  check(spec.command.length > 0, f("command"), "must not be empty");
  check(spec.command[0].length > 0, f("command[0]"), "program must not be empty");
  let bytes = 0;
  for (const arg of spec.command) bytes += utf8Length(arg) + 1;
  for (const [k, v] of Object.entries(spec.env)) {
    check(/^[A-Za-z_][A-Za-z0-9_]*$/.test(k), `${f("env")}[${JSON.stringify(k)}]`, "name must match [A-Za-z_][A-Za-z0-9_]*");
    bytes += utf8Length(k) + utf8Length(v) + 2;
  }
  check(bytes <= LIMITS.maxPayloadBytes, f("command"), `command and env together must be <= 1 MiB (got ${bytes} bytes)`);
  check(spec.name.length <= LIMITS.maxNameLength, f("name"), `at most ${LIMITS.maxNameLength} characters`);
  check(spec.project.length <= LIMITS.maxKeyLength, f("project"), `at most ${LIMITS.maxKeyLength} characters`);
  check(spec.kind.length <= LIMITS.maxKeyLength, f("kind"), `at most ${LIMITS.maxKeyLength} characters`);
  check(spec.idempotencyKey.length <= LIMITS.maxKeyLength, f("idempotency_key"), `at most ${LIMITS.maxKeyLength} characters`);
  check(spec.workingDir.length <= 4096, f("working_dir"), "at most 4096 characters");
  const labels = Object.entries(spec.labels);
  check(labels.length <= LIMITS.maxLabels, f("labels"), `at most ${LIMITS.maxLabels} labels`);
  for (const [k, v] of labels) {
    check(k.length > 0 && k.length <= 63 && !k.includes("="), `${f("labels")}[${JSON.stringify(k)}]`, "key must be 1..63 characters without '='");
    check(v.length <= LIMITS.maxKeyLength, `${f("labels")}[${k}]`, `value at most ${LIMITS.maxKeyLength} characters`);
  }
  const r = spec.resources;
  checkInt(r.cpuMillis, f("resources.cpu_millis"), 1, LIMITS.maxCpuMillis);
  checkInt(r.memoryMib, f("resources.memory_mib"), 1, LIMITS.maxMemoryMib);
  checkInt(r.gpuCount, f("resources.gpu_count"), 0, LIMITS.maxGpus);
  checkInt(r.gpuMemoryMib, f("resources.gpu_memory_mib"), 0, LIMITS.maxGpuMemoryMib);
  check(r.gpuModel.length <= LIMITS.maxKeyLength, f("resources.gpu_model"), `at most ${LIMITS.maxKeyLength} characters`);
  checkStrings(spec.requiredTags, f("required_tags"), LIMITS.maxTags);
  checkStrings(spec.preferredTags, f("preferred_tags"), LIMITS.maxTags);
  check(Number.isFinite(spec.ioIntensity) && spec.ioIntensity >= 0 && spec.ioIntensity <= 1, f("io_intensity"), "must be a number in [0, 1]");
  checkInt(spec.estimateMs, f("estimate_ms"), 0, LIMITS.maxDurationMs);
  checkInt(spec.timeoutMs, f("timeout_ms"), 0, LIMITS.maxDurationMs);
  checkInt(spec.maxRetries, f("max_retries"), 0, LIMITS.maxRetries);
  if (spec.maxRequeues !== undefined) checkInt(spec.maxRequeues, f("max_requeues"), 0, LIMITS.maxRequeues);
  if (spec.retryBackoffMs !== undefined) checkInt(spec.retryBackoffMs, f("retry_backoff_ms"), 0, 24 * 3600 * 1000);
  if (spec.preemptGraceMs !== undefined) checkInt(spec.preemptGraceMs, f("preempt_grace_ms"), 0, MAX_PREEMPT_GRACE_MS);
  if (spec.preemptSignal !== undefined)
    check((PREEMPT_SIGNALS as readonly string[]).includes(spec.preemptSignal), f("preempt_signal"), `must be one of ${PREEMPT_SIGNALS.join(", ")}`);
  if (spec.deadlineMs !== null) check(Number.isFinite(spec.deadlineMs) && spec.deadlineMs > 0, f("deadline"), "must be a valid timestamp");
}

/**
 * A deadline that has passed when the task is submitted could only be missed: rejected where "now"
 * is known (the submitter, at submit; a stored task is never checked again). `prefix` e.g. "spec".
 */
export function checkDeadlineAhead(spec: TaskSpec, nowMs: number, prefix = "spec"): void {
  if (spec.deadlineMs !== null) check(spec.deadlineMs > nowMs, `${prefix}.deadline`, "must be in the future");
}

/** Explicit deadline, else submit time + estimate x slaMultiplier, else none (no estimate). */
export function effectiveDeadline(spec: TaskSpec, createdAtMs: number, slaMultiplier: number): number | null {
  if (spec.deadlineMs !== null) return spec.deadlineMs;
  if (spec.estimateMs > 0) return createdAtMs + Math.round(spec.estimateMs * slaMultiplier);
  return null;
}
