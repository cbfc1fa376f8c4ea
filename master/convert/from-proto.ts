// Proto messages from clients and agents -> validated domain values. This is the edge: everything
// that reaches the core has passed through here.
import { InvalidArgumentError } from "../../src/core/errors.js";
import { validateSpec, withDefaults } from "../../src/core/spec-rules.js";
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
  };
  const resolved = withDefaults(domain);
  validateSpec(resolved, prefix);
  return resolved;
}

export function resultFromProto(result: ProtoTaskResult | undefined, field: string): TaskResult {
  if (!result) throw new InvalidArgumentError(field, "is required");
  return {
    outcome: outcomeEnum.toDomain(result.outcome, `${field}.outcome`),
    exitCode: result.exitCode,
    signal: result.signal,
    outputTail: result.outputTail.length > 65536 ? result.outputTail.slice(-65536) : result.outputTail,
    durationMs: Math.max(0, result.durationMs),
    message: result.message,
  };
}

export function capacityFromProto(c: ProtoCapacity | undefined, field: string): Capacity {
  if (!c) throw new InvalidArgumentError(field, "is required");
  if (!(c.cpuMillis > 0)) throw new InvalidArgumentError(`${field}.cpu_millis`, "must be > 0");
  if (!(c.memoryMib > 0)) throw new InvalidArgumentError(`${field}.memory_mib`, "must be > 0");
  if (!(c.maxTasks >= 0 && c.maxTasks <= 100_000)) throw new InvalidArgumentError(`${field}.max_tasks`, "must be 0..100000");
  const seen = new Set<number>();
  for (const g of c.gpus) {
    if (seen.has(g.index)) throw new InvalidArgumentError(`${field}.gpus`, `duplicate GPU index ${g.index}`);
    seen.add(g.index);
  }
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
