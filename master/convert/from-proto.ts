// Proto messages from clients and agents -> validated domain values. This is the edge: everything
// that reaches the core has passed through here.
import { InvalidArgumentError } from "../../src/core/errors.js";
import { validateSpec, withDefaults } from "../../src/core/spec-rules.js";
import { escapeNul, noNul } from "../../src/core/text-rules.js";
import type { Capacity, TaskResult, TaskSpec, Telemetry } from "../../src/core/types.js";
import type { TaskSpec as ProtoTaskSpec, TaskResult as ProtoTaskResult } from "../../src/gen/taskgrid/v1/task.js";
import type { Capacity as ProtoCapacity, Telemetry as ProtoTelemetry } from "../../src/gen/taskgrid/v1/types.js";
import { outcomeEnum, priorityEnum, queueClassEnum } from "./enums.js";

function ms(date: Date | undefined, field: string): number | null {
  if (!date) return null;
  const t = date.getTime();
  if (!Number.isFinite(t)) throw new InvalidArgumentError(field, "must be a valid timestamp");
  return t;
}

export function specFromProto(spec: ProtoTaskSpec | undefined, prefix = "spec"): TaskSpec {
  if (!spec) throw new InvalidArgumentError(prefix, "is required");
  const r = spec.resources;
  const domain: TaskSpec = {
    name: spec.name,
    project: spec.project,
    labels: { ...spec.labels },
    queueClass: queueClassEnum.toDomain(spec.queueClass, `${prefix}.queue_class`, "DEFAULT"),
    priority: priorityEnum.toDomain(spec.priority, `${prefix}.priority`, "NORMAL"),
    command: [...spec.command],
    env: { ...spec.env },
    workingDir: spec.workingDir,
    resources: {
      cpuMillis: r?.cpuMillis ?? 0,
      memoryMib: r?.memoryMib ?? 0,
      gpuCount: r?.gpuCount ?? 0,
      gpuModel: r?.gpuModel ?? "",
      gpuMemoryMib: r?.gpuMemoryMib ?? 0,
    },
    requiredTags: [...spec.requiredTags],
    preferredTags: [...spec.preferredTags],
    kind: spec.kind,
    ioIntensity: spec.ioIntensity,
    estimateMs: spec.estimateMs,
    deadlineMs: ms(spec.deadline, `${prefix}.deadline`),
    timeoutMs: spec.timeoutMs,
    maxRetries: spec.maxRetries,
    idempotencyKey: spec.idempotencyKey,
    // Unset stays unset: the master's defaults apply when the attempt ends (failure-accounting.ts).
    ...(spec.maxRequeues === undefined ? {} : { maxRequeues: spec.maxRequeues }),
    ...(spec.retryBackoffMs === undefined ? {} : { retryBackoffMs: spec.retryBackoffMs }),
    ...(spec.preemptible === undefined ? {} : { preemptible: spec.preemptible }),
    ...(spec.preemptGraceMs === undefined ? {} : { preemptGraceMs: spec.preemptGraceMs }),
    ...(spec.preemptSignal === "" ? {} : { preemptSignal: spec.preemptSignal }),
    // Arrays and dependencies: absent when not used, so the spec (and its hash) is as before.
    ...(spec.array === "" ? {} : { array: spec.array }),
    ...(spec.after.length === 0 ? {} : { after: [...spec.after] }),
    ...(spec.afterAny.length === 0 ? {} : { afterAny: [...spec.afterAny] }),
    ...(spec.afterFail.length === 0 ? {} : { afterFail: [...spec.afterFail] }),
    ...(spec.keepInvalidDependency ? { keepInvalidDependency: true } : {}),
    ...(spec.hold ? { hold: true } : {}),
  };
  const resolved = withDefaults(domain);
  validateSpec(resolved, prefix);
  return resolved;
}

/** TaskResult.output_tail is "at most 64 KiB"; longer tails keep their end. */
const MAX_OUTPUT_TAIL = 65536;

/**
 * A result reported by an agent. Its text is escaped, not rejected: output may be binary, and an
 * agent that is not ours (a Python worker) may not escape NUL itself (see text-rules.ts).
 */
export function resultFromProto(result: ProtoTaskResult | undefined, field: string): TaskResult {
  if (!result) throw new InvalidArgumentError(field, "is required");
  const outputTail = escapeNul(result.outputTail);
  return {
    outcome: outcomeEnum.toDomain(result.outcome, `${field}.outcome`),
    exitCode: result.exitCode,
    signal: escapeNul(result.signal),
    outputTail: outputTail.length > MAX_OUTPUT_TAIL ? outputTail.slice(-MAX_OUTPUT_TAIL) : outputTail,
    durationMs: Math.max(0, result.durationMs),
    message: escapeNul(result.message),
    ...(result.logLocation ? { logLocation: escapeNul(result.logLocation).slice(0, 4096) } : {}),
    ...measured("cpuTimeMs", result.cpuTimeMs),
    ...measured("maxRssKib", result.maxRssKib),
  };
}

/**
 * An accounting figure of a result, kept when it is a whole number >= 0. Anything else is dropped,
 * not refused: refusing would refuse the whole report, which the agent then sends again for ever.
 */
function measured<K extends "cpuTimeMs" | "maxRssKib">(key: K, value: number | undefined): { [P in K]?: number } {
  if (value === undefined || !Number.isSafeInteger(value) || value < 0) return {};
  return { [key]: value } as { [P in K]?: number };
}

/** Bounds of what one worker can offer; anything beyond is a broken or hostile agent. */
export const CAPACITY_LIMITS = {
  maxCpuMillis: 100_000_000, // 100,000 cores
  maxMemoryMib: 1024 ** 3, // 1 PiB
  maxTasks: 100_000,
  maxGpus: 1024,
} as const;

function checkWhole(value: number, field: string, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(field, `must be a whole number in ${min}..${max} (got ${value})`);
}

export function capacityFromProto(c: ProtoCapacity | undefined, field: string): Capacity {
  if (!c) throw new InvalidArgumentError(field, "is required");
  checkWhole(c.cpuMillis, `${field}.cpu_millis`, 1, CAPACITY_LIMITS.maxCpuMillis);
  checkWhole(c.memoryMib, `${field}.memory_mib`, 1, CAPACITY_LIMITS.maxMemoryMib);
  checkWhole(c.maxTasks, `${field}.max_tasks`, 0, CAPACITY_LIMITS.maxTasks);
  if (c.gpus.length > CAPACITY_LIMITS.maxGpus)
    throw new InvalidArgumentError(`${field}.gpus`, `at most ${CAPACITY_LIMITS.maxGpus} GPUs (got ${c.gpus.length})`);
  const seen = new Set<number>();
  c.gpus.forEach((g, i) => {
    const gf = `${field}.gpus[${i}]`;
    checkWhole(g.index, `${gf}.index`, 0, 2 ** 31 - 1);
    checkWhole(g.memoryMib, `${gf}.memory_mib`, 0, CAPACITY_LIMITS.maxMemoryMib);
    checkWhole(g.numaNode, `${gf}.numa_node`, -1, 2 ** 31 - 1); // -1: unknown
    // uuid and model are stored with the worker (text/jsonb cannot hold NUL).
    noNul(`${gf}.uuid`, g.uuid);
    noNul(`${gf}.model`, g.model);
    if (seen.has(g.index)) throw new InvalidArgumentError(`${field}.gpus`, `duplicate GPU index ${g.index}`);
    seen.add(g.index);
  });
  return {
    cpuMillis: c.cpuMillis,
    memoryMib: c.memoryMib,
    maxTasks: c.maxTasks,
    gpus: c.gpus.map((g) => ({ index: g.index, uuid: g.uuid, model: g.model, memoryMib: g.memoryMib, numaNode: g.numaNode })),
  };
}

export function telemetryFromProto(t: ProtoTelemetry | undefined, nowMs: number): Telemetry | null {
  if (!t) return null;
  const clamp01 = (v: number) => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);
  return {
    // Freshness is judged by when the master received it: agents' clocks may be skewed.
    sampledAtMs: nowMs,
    cpuLoad: Number.isFinite(t.cpuLoad) ? Math.max(0, t.cpuLoad) : 0,
    memoryUsedMib: t.memoryUsedMib,
    memoryTotalMib: t.memoryTotalMib,
    ioPressure: clamp01(t.ioPressure),
    runningAttempts: t.runningAttempts,
    gpus: t.gpus.map((g) => ({ index: g.index, utilizationPercent: g.utilizationPercent, memoryUsedMib: g.memoryUsedMib })),
    probeErrors: [...t.probeErrors],
  };
}
