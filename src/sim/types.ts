// Simulator inputs: what a workload hands the engine. Plain data; times in simulated ms.
import type { Gpu, Priority, QueueClass } from "../core/types.js";

export type Family = "cpu" | "gpu" | "io";

export interface SimWorkerSpec {
  id: string;
  tags: string[];
  cpuMillis: number;
  memoryMib: number;
  maxTasks: number;
  gpus: Gpu[];
  /** Runtime multiplier per kind family (1 = nominal, 2 = twice as slow, 0.5 = twice as fast). */
  speed: Record<Family, number>;
  /** Probability that an attempt on this worker fails. */
  failureRate: number;
}

export interface SimTaskSpec {
  id: string;
  submitMs: number;
  /** True runtime at nominal speed (ms). */
  runtimeMs: number;
  /** The user's estimate (ms, 0 = none). */
  estimateMs: number;
  /** Absolute deadline (ms) or null (then submit + estimate x slaMultiplier when an estimate exists). */
  deadlineMs: number | null;
  kind: string;
  family: Family;
  cpuMillis: number;
  memoryMib: number;
  gpuCount: number;
  gpuModel: string;
  ioIntensity: number;
  requiredTags: string[];
  preferredTags: string[];
  maxRetries: number;
  /** The task's project (fair share, quotas, per-project metrics); absent: "sim". */
  project?: string;
  /** Queue class (ordering and preemption rank); absent: DEFAULT. */
  queueClass?: QueueClass;
  /** Priority within the class; absent: NORMAL. */
  priority?: Priority;
  /** Whether higher-ranked work may preempt it; absent: the class default (BATCH only). */
  preemptible?: boolean;
  /** Preemption signal -> SIGKILL grace; absent: the core's default. Caps the engine's stop delay. */
  preemptGraceMs?: number;
}

export interface Workload {
  name: string;
  description: string;
  workers: SimWorkerSpec[];
  tasks: SimTaskSpec[];
}
