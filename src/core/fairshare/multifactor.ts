// Slurm-style multifactor priority of one task (issue 15): a weighted sum of factors in 0..1, each
// kept so that `taskgrid get` can say why a task waits or why it went first.
import { PRIORITIES, QUEUE_CLASSES, type ResourceRequest, type Task } from "../types.js";
import { billingRate } from "./decay.js";
import { DEFAULT_BILLING_WEIGHTS, type MultifactorWeights, type PriorityBreakdown } from "./types.js";

/** LIVE 1, DEFAULT 0.5, BATCH 0 (evenly spaced over QUEUE_CLASSES, most urgent first). */
export function queueClassFactor(task: Task): number {
  return 1 - QUEUE_CLASSES.indexOf(task.spec.queueClass) / (QUEUE_CLASSES.length - 1);
}

/** HIGH 1, NORMAL 0.5, LOW 0. */
export function priorityFactor(task: Task): number {
  return 1 - PRIORITIES.indexOf(task.spec.priority) / (PRIORITIES.length - 1);
}

/**
 * Time since submission over `maxAgeMs`, saturating at 1 (Slurm's PriorityMaxAge): old tasks stop
 * gaining, so age breaks ties but cannot outgrow fair share. Never negative (a clock step back).
 */
export function ageFactor(task: Task, nowMs: number, maxAgeMs: number): number {
  if (!(maxAgeMs > 0)) throw new RangeError(`max age must be > 0 ms, got ${maxAgeMs}`);
  return Math.min(1, Math.max(0, (nowMs - task.createdAtMs) / maxAgeMs));
}

/**
 * 1 / (1 + billing rate of the request), billed with the default weights whatever the cluster bills
 * usage with: a request of nothing scores 1, one GPU 0.5, eight GPUs about 0.11 (small jobs first,
 * which shortens the average wait). The demand is in the units of Amounts: cores, GiB, GPUs.
 */
export function sizeFactor(resources: ResourceRequest): number {
  const demand = { cpu: resources.cpuMillis / 1000, memory: resources.memoryMib / 1024, gpu: resources.gpuCount };
  return 1 / (1 + billingRate(demand, DEFAULT_BILLING_WEIGHTS));
}

/** Each factor of `task`'s priority at `nowMs`, and their weighted sum (higher goes first). */
export function priorityBreakdown(task: Task, fairShare: number, nowMs: number, weights: MultifactorWeights, maxAgeMs: number): PriorityBreakdown {
  const queueClass = queueClassFactor(task);
  const priority = priorityFactor(task);
  const age = ageFactor(task, nowMs, maxAgeMs);
  const size = sizeFactor(task.spec.resources);
  const total = weights.queueClass * queueClass + weights.priority * priority + weights.fairShare * fairShare + weights.age * age + weights.size * size;
  return { queueClass, priority, fairShare, age, size, total };
}

/**
 * priorityBreakdown's total alone, without its object (the dispatch pass ranks every head it
 * yields; the breakdown is only shown on request). A factor whose weight is 0 is not computed.
 */
export function priorityTotal(task: Task, fairShare: number, nowMs: number, weights: MultifactorWeights, maxAgeMs: number): number {
  let total = weights.queueClass * queueClassFactor(task) + weights.priority * priorityFactor(task) + weights.fairShare * fairShare;
  if (weights.age !== 0) total += weights.age * ageFactor(task, nowMs, maxAgeMs);
  if (weights.size !== 0) total += weights.size * sizeFactor(task.spec.resources);
  return total;
}
