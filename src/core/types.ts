// Domain model of Taskgrid. Plain data, no I/O: the master, the store, the simulator and the
// benchmarks all speak these types. Times are epoch milliseconds (numbers), never Date objects,
// so the core stays trivially serialisable and clock-injectable.

export const QUEUE_CLASSES = ["LIVE", "DEFAULT", "BATCH"] as const;
export type QueueClass = (typeof QUEUE_CLASSES)[number];

export const PRIORITIES = ["HIGH", "NORMAL", "LOW"] as const;
export type Priority = (typeof PRIORITIES)[number];

export const TASK_STATES = ["QUEUED", "ASSIGNED", "RUNNING", "PAUSED", "SUCCEEDED", "FAILED", "CANCELED"] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(["SUCCEEDED", "FAILED", "CANCELED"]);

export const ATTEMPT_OUTCOMES = ["SUCCEEDED", "FAILED", "CANCELED", "TIMEOUT", "LOST", "START_FAILED", "PREEMPTED"] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

export const WORKER_STATUSES = ["ONLINE", "SUSPECT", "OFFLINE", "DRAINING"] as const;
export type WorkerStatus = (typeof WORKER_STATUSES)[number];

export interface ResourceRequest {
  cpuMillis: number;
  memoryMib: number;
  gpuCount: number;
  /** Case-insensitive substring of the GPU model name; "" matches any. */
  gpuModel: string;
  gpuMemoryMib: number;
}

/** A fully-resolved task specification (defaults applied, validated). */
export interface TaskSpec {
  name: string;
  project: string;
  labels: Record<string, string>;
  queueClass: QueueClass;
  priority: Priority;
  command: string[];
  env: Record<string, string>;
  workingDir: string;
  resources: ResourceRequest;
  requiredTags: string[];
  preferredTags: string[];
  kind: string;
  ioIntensity: number;
  estimateMs: number;
  /** Explicit deadline (epoch ms) or null. */
  deadlineMs: number | null;
  timeoutMs: number;
  maxRetries: number;
  idempotencyKey: string;
  /** Requeues after infrastructure failures (worker lost, drained); undefined: the master's default. */
  maxRequeues?: number;
  /** Base of the retry backoff; undefined: the master's default. */
  retryBackoffMs?: number;
  /** Whether higher-ranked work may preempt it; undefined: BATCH only (core/preemption/rank.ts). */
  preemptible?: boolean;
  /** Preemption signal -> SIGKILL grace; undefined: DEFAULT_PREEMPT_GRACE_MS. */
  preemptGraceMs?: number;
  /** Signal sent on preemption; undefined: SIGTERM. One of PREEMPT_SIGNALS. */
  preemptSignal?: string;
  /** Job array range ("0-999:2%10", core/arrays.ts); undefined: a single task. */
  array?: string;
  /** Dependencies (core/dependencies.ts): task ids, array ids or "ID[N]"; undefined: none. */
  after?: string[];
  afterAny?: string[];
  afterFail?: string[];
  /** A dependency that can no longer be met leaves it QUEUED (with the reason) instead of CANCELED. */
  keepInvalidDependency?: boolean;
  /** Held: stays QUEUED until released (submitted with hold, or HoldTask); absent when not. */
  hold?: boolean;
}

export interface TaskResult {
  outcome: AttemptOutcome;
  exitCode: number;
  signal: string;
  outputTail: string;
  durationMs: number;
  message: string;
  /** "<worker id>:<dir>" of the attempt's full log files on its agent (issue 17); absent when unknown. */
  logLocation?: string;
  /** CPU time (user + system) of the process and its waited-for descendants, ms; absent when not measured (issue 17). */
  cpuTimeMs?: number;
  /** Peak RSS of the task's largest process, KiB; absent when not measured. */
  maxRssKib?: number;
}

export interface ScoreBreakdown {
  workerId: string;
  score: number;
  deadline: number;
  affinity: number;
  load: number;
  io: number;
  success: number;
  penalty: number;
}

export interface PlacementDecision {
  strategy: "rts" | "round_robin";
  fallbackReason: string;
  feasibleWorkers: number;
  chosen: ScoreBreakdown | null;
  runnerUp: ScoreBreakdown | null;
  weightsVersion: string;
}

export interface Attempt {
  id: string;
  taskId: string;
  /** 1-based. */
  number: number;
  workerId: string;
  gpuIndexes: number[];
  assignedAtMs: number;
  startedAtMs: number | null;
  finishedAtMs: number | null;
  result: TaskResult | null;
  decision: PlacementDecision | null;
  /** Runs on quota borrowed from other projects' idle nominal (reclaimable; issue 15). Absent: false. */
  borrowed?: boolean;
}

export interface Task {
  id: string;
  spec: TaskSpec;
  state: TaskState;
  progress: number;
  progressMessage: string;
  createdAtMs: number;
  updatedAtMs: number;
  /** Effective deadline (explicit or derived) or null. */
  deadlineMs: number | null;
  /** Attempt currently in flight (ASSIGNED/RUNNING/PAUSED), else null. */
  currentAttemptId: string | null;
  /** Number of attempts made so far. */
  attemptCount: number;
  /** Result of the final attempt once terminal. */
  result: TaskResult | null;
  /** Canonical hash of the spec as submitted, for idempotency comparisons; "" for a spec without an idempotency key (never compared). */
  specHash: string;
  /** True once an attempt finished after the effective deadline. */
  deadlineMissed: boolean;
  /** Attempts that failed through the task's own fault (they count against spec.maxRetries). */
  retriesUsed: number;
  /** Attempts ended by the infrastructure and requeued (they count against spec.maxRequeues). */
  requeues: number;
  /** While QUEUED for a retry: not placed before this time (backoff); null when eligible now. */
  notBeforeMs: number | null;
  /**
   * W3C `traceparent` of the task's submit span, kept with the task (and in its row) so that the
   * spans of its later life join the same trace; absent when tracing was off at submission.
   */
  traceParent?: string;
  /** The job array it is an element of, and its index there; absent for a plain task. */
  arrayId?: string;
  arrayIndex?: number;
}

export interface Gpu {
  index: number;
  uuid: string;
  model: string;
  memoryMib: number;
  numaNode: number;
}

export interface Capacity {
  cpuMillis: number;
  memoryMib: number;
  maxTasks: number;
  gpus: Gpu[];
}

export interface GpuTelemetry {
  index: number;
  utilizationPercent: number;
  memoryUsedMib: number;
}

export interface Telemetry {
  sampledAtMs: number;
  cpuLoad: number;
  memoryUsedMib: number;
  memoryTotalMib: number;
  ioPressure: number;
  runningAttempts: number;
  gpus: GpuTelemetry[];
  probeErrors: string[];
}

export interface Worker {
  id: string;
  hostname: string;
  tags: string[];
  capacity: Capacity;
  status: WorkerStatus;
  agentVersion: string;
  registeredAtMs: number;
  lastSeenAtMs: number;
  telemetry: Telemetry | null;
  /** Attempts that finished on this worker after their task's deadline. */
  deadlineMisses: number;
  /**
   * Set while an operator has drained the worker (when, and why): it takes no new work, across
   * agent and master restarts (stored in the worker's row). Absent when not drained.
   */
  drain?: { atMs: number; reason: string };
}

/** One event in a task's history (also what WatchTasks streams). */
export interface TaskEvent {
  taskId: string;
  state: TaskState;
  progress: number;
  progressMessage: string;
  timeMs: number;
  attemptId: string;
  workerId: string;
  result: TaskResult | null;
  /** Who caused it (audit, DESIGN §10): see Caller.actor and MASTER_ACTOR; "" when auth is off. */
  actor: string;
}
