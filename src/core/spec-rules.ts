// Validation and defaults for a submitted TaskSpec. Runs at the edge (every submit) so bad input is
// rejected with a message naming the field and the rule, before anything is written.
import { InvalidArgumentError } from "./errors.js";
import { hasNul, NUL_RULE } from "./text-rules.js";
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

// The rules run for every submitted task, so a field's name and a rule's text are built only when
// the rule is broken: `fail` is reached only then.

/** Throws InvalidArgumentError naming `prefix.field` and the rule. */
function fail(prefix: string, field: string, rule: string): never {
  throw new InvalidArgumentError(`${prefix}.${field}`, rule);
}

function checkInt(value: number, prefix: string, field: string, min: number, max: number): void {
  if (!Number.isInteger(value)) fail(prefix, field, "must be a whole number");
  if (value < min) fail(prefix, field, `must be >= ${min} (got ${value})`);
  if (value > max) fail(prefix, field, `must be <= ${max} (got ${value})`);
}

function checkStrings(values: readonly string[], prefix: string, field: string, maxCount: number): void {
  if (values.length > maxCount) fail(prefix, field, `at most ${maxCount} entries`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v.length === 0 || v.length > LIMITS.maxKeyLength) fail(prefix, `${field}[${i}]`, `must be 1..${LIMITS.maxKeyLength} characters`);
  }
}

function checkLength(value: string, max: number, prefix: string, field: string): void {
  if (value.length > max) fail(prefix, field, `at most ${max} characters`);
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

/** A NUL-free string (see checkNoNul). */
function noNulIn(value: string, prefix: string, field: string): void {
  if (hasNul(value)) fail(prefix, field, NUL_RULE);
}

/**
 * Every string of the spec, NUL-free: the spec is stored as text and jsonb, which cannot hold NUL
 * (see text-rules.ts). Checked before the other rules so a NUL is reported as such. Map keys are
 * quoted with JSON.stringify, so the NUL shows as \u0000 in the message.
 */
function checkNoNul(spec: TaskSpec, prefix: string): void {
  noNulIn(spec.name, prefix, "name");
  noNulIn(spec.project, prefix, "project");
  for (const k in spec.labels) {
    if (hasNul(k)) fail(prefix, `labels key ${JSON.stringify(k)}`, NUL_RULE);
    if (hasNul(spec.labels[k])) fail(prefix, `labels[${JSON.stringify(k)}]`, NUL_RULE);
  }
  for (let i = 0; i < spec.command.length; i++) if (hasNul(spec.command[i])) fail(prefix, `command[${i}]`, NUL_RULE);
  for (const k in spec.env) {
    if (hasNul(k)) fail(prefix, `env key ${JSON.stringify(k)}`, NUL_RULE);
    if (hasNul(spec.env[k])) fail(prefix, `env[${JSON.stringify(k)}]`, NUL_RULE);
  }
  noNulIn(spec.workingDir, prefix, "working_dir");
  noNulIn(spec.resources.gpuModel, prefix, "resources.gpu_model");
  for (let i = 0; i < spec.requiredTags.length; i++) if (hasNul(spec.requiredTags[i])) fail(prefix, `required_tags[${i}]`, NUL_RULE);
  for (let i = 0; i < spec.preferredTags.length; i++) if (hasNul(spec.preferredTags[i])) fail(prefix, `preferred_tags[${i}]`, NUL_RULE);
  noNulIn(spec.kind, prefix, "kind");
  noNulIn(spec.idempotencyKey, prefix, "idempotency_key");
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throws InvalidArgumentError naming the first field that breaks a rule. `prefix` e.g. "spec". */
export function validateSpec(spec: TaskSpec, prefix = "spec"): void {
  checkNoNul(spec, prefix);
  if (spec.command.length === 0) fail(prefix, "command", "must not be empty");
  if (spec.command[0].length === 0) fail(prefix, "command[0]", "program must not be empty");
  let bytes = 0;
  for (const arg of spec.command) bytes += utf8Length(arg) + 1;
  for (const k in spec.env) {
    if (!ENV_NAME.test(k)) fail(prefix, `env[${JSON.stringify(k)}]`, "name must match [A-Za-z_][A-Za-z0-9_]*");
    bytes += utf8Length(k) + utf8Length(spec.env[k]) + 2;
  }
  if (bytes > LIMITS.maxPayloadBytes) fail(prefix, "command", `command and env together must be <= 1 MiB (got ${bytes} bytes)`);
  checkLength(spec.name, LIMITS.maxNameLength, prefix, "name");
  checkLength(spec.project, LIMITS.maxKeyLength, prefix, "project");
  checkLength(spec.kind, LIMITS.maxKeyLength, prefix, "kind");
  checkLength(spec.idempotencyKey, LIMITS.maxKeyLength, prefix, "idempotency_key");
  checkLength(spec.workingDir, 4096, prefix, "working_dir");
  let labelCount = 0;
  for (const _ in spec.labels) labelCount++;
  if (labelCount > LIMITS.maxLabels) fail(prefix, "labels", `at most ${LIMITS.maxLabels} labels`);
  for (const k in spec.labels) {
    if (k.length === 0 || k.length > 63 || k.includes("=")) fail(prefix, `labels[${JSON.stringify(k)}]`, "key must be 1..63 characters without '='");
    if (spec.labels[k].length > LIMITS.maxKeyLength) fail(prefix, `labels[${k}]`, `value at most ${LIMITS.maxKeyLength} characters`);
  }
  const r = spec.resources;
  checkInt(r.cpuMillis, prefix, "resources.cpu_millis", 1, LIMITS.maxCpuMillis);
  checkInt(r.memoryMib, prefix, "resources.memory_mib", 1, LIMITS.maxMemoryMib);
  checkInt(r.gpuCount, prefix, "resources.gpu_count", 0, LIMITS.maxGpus);
  checkInt(r.gpuMemoryMib, prefix, "resources.gpu_memory_mib", 0, LIMITS.maxGpuMemoryMib);
  checkLength(r.gpuModel, LIMITS.maxKeyLength, prefix, "resources.gpu_model");
  checkStrings(spec.requiredTags, prefix, "required_tags", LIMITS.maxTags);
  checkStrings(spec.preferredTags, prefix, "preferred_tags", LIMITS.maxTags);
  if (!(Number.isFinite(spec.ioIntensity) && spec.ioIntensity >= 0 && spec.ioIntensity <= 1)) fail(prefix, "io_intensity", "must be a number in [0, 1]");
  checkInt(spec.estimateMs, prefix, "estimate_ms", 0, LIMITS.maxDurationMs);
  checkInt(spec.timeoutMs, prefix, "timeout_ms", 0, LIMITS.maxDurationMs);
  checkInt(spec.maxRetries, prefix, "max_retries", 0, LIMITS.maxRetries);
  if (spec.maxRequeues !== undefined) checkInt(spec.maxRequeues, prefix, "max_requeues", 0, LIMITS.maxRequeues);
  if (spec.retryBackoffMs !== undefined) checkInt(spec.retryBackoffMs, prefix, "retry_backoff_ms", 0, 24 * 3600 * 1000);
  if (spec.preemptGraceMs !== undefined) checkInt(spec.preemptGraceMs, prefix, "preempt_grace_ms", 0, MAX_PREEMPT_GRACE_MS);
  if (spec.preemptSignal !== undefined && !(PREEMPT_SIGNALS as readonly string[]).includes(spec.preemptSignal))
    fail(prefix, "preempt_signal", `must be one of ${PREEMPT_SIGNALS.join(", ")}`);
  if (spec.deadlineMs !== null && !(Number.isFinite(spec.deadlineMs) && spec.deadlineMs > 0)) fail(prefix, "deadline", "must be a valid timestamp");
}

/**
 * A deadline that has passed when the task is submitted could only be missed: rejected where "now"
 * is known (the submitter, at submit; a stored task is never checked again). `prefix` e.g. "spec".
 */
export function checkDeadlineAhead(spec: TaskSpec, nowMs: number, prefix = "spec"): void {
  if (spec.deadlineMs !== null && !(spec.deadlineMs > nowMs)) fail(prefix, "deadline", "must be in the future");
}

/** Explicit deadline, else submit time + estimate x slaMultiplier, else none (no estimate). */
export function effectiveDeadline(spec: TaskSpec, createdAtMs: number, slaMultiplier: number): number | null {
  if (spec.deadlineMs !== null) return spec.deadlineMs;
  if (spec.estimateMs > 0) return createdAtMs + Math.round(spec.estimateMs * slaMultiplier);
  return null;
}
