// Sharing a fleet between projects (issue 15): the data the quota ledger, the fair-share factor and
// the multifactor ordering work on. Pure data; the master, the store and the simulator fill it.

/**
 * Amounts per resource. Keys: "cpu" (cores), "memory" (GiB), "gpu" (GPUs of any model), "tasks"
 * (running tasks), and "gpu:<model>". In a demand or a usage, <model> is the GPU's model name
 * normalised by gpuModelKey ("NVIDIA H100 80GB HBM3" -> "nvidia-h100-80gb-hbm3"); in a quota it
 * covers every GPU whose key contains it ("gpu:h100" covers all H100 variants), the rule a task's
 * gpuModel request follows too. A key that is absent means zero in a demand or a usage, and "no
 * limit" in a quota.
 */
export type Amounts = Readonly<Record<string, number>>;

/** A project's quota (Kueue's ClusterQueue quota, with every project in one cohort). */
export interface ProjectQuota {
  project: string;
  /** What the project may always use; a resource not listed is not limited. */
  nominal: Amounts;
  /**
   * How much beyond its nominal it may use out of other projects' idle nominal quota. A resource
   * with a nominal but not listed here: no limit (as much as is idle).
   */
  borrowingLimit: Amounts;
  /** How much of its own nominal others may borrow while it is idle. Not listed: all of it. */
  lendingLimit: Amounts;
}

/** The quota of a project that has none of its own; null: unlimited (the default). */
export type DefaultQuota = Omit<ProjectQuota, "project"> | null;

/** Slurm's TRES billing: units charged per second of each resource held. */
export interface BillingWeights {
  /** Per core (default 1/32). */
  cpu: number;
  /** Per GiB (default 1/256). */
  memory: number;
  /** Per GPU (default 1). */
  gpu: number;
}

export const DEFAULT_BILLING_WEIGHTS: BillingWeights = { cpu: 1 / 32, memory: 1 / 256, gpu: 1 };

/** A project's decayed usage in billing-unit seconds, as of `atMs`. */
export interface ProjectUsage {
  project: string;
  usage: number;
  atMs: number;
}

/** The multifactor priority's weights (each factor is in 0..1). */
export interface MultifactorWeights {
  /** Queue class: LIVE 1, DEFAULT 0.5, BATCH 0. */
  queueClass: number;
  /** Priority: HIGH 1, NORMAL 0.5, LOW 0. */
  priority: number;
  /** Fair-share factor F = 2^(-U_norm / S_norm). */
  fairShare: number;
  /** Age: time queued / maxAgeMs, saturating at 1. */
  age: number;
  /** Size: 1 for the smallest request, towards 0 for the largest (small jobs first). */
  size: number;
}

/**
 * Defaults: class and priority dominate as today (a LIVE task still goes before any BATCH task),
 * fair share orders projects within the same class and priority, age breaks the rest. Size is off
 * (0): with one project the order is then exactly priority-FIFO (the master's priorityWeight*
 * settings default to these).
 */
export const DEFAULT_MULTIFACTOR_WEIGHTS: MultifactorWeights = { queueClass: 10_000, priority: 1_000, fairShare: 100, age: 10, size: 0 };

/** Each factor of one task's multifactor priority, kept for `taskgrid get`. */
export interface PriorityBreakdown {
  queueClass: number;
  priority: number;
  fairShare: number;
  age: number;
  size: number;
  /** The weighted sum. */
  total: number;
}
