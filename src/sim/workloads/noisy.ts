// The "noisy neighbour" burst of issue 15: project A submits a sweep of one-GPU tasks all at once,
// filling every GPU for hours; project B submits a few such tasks a little later. Equal shares
// unless the caller says otherwise. Defaults are the target: 5,000 A tasks of 60 s on 16
// one-GPU workers, 50 B tasks 60 s later. Deterministic (no randomness at all): runtimes are exact,
// workers identical and never fail.
import type { SimTaskSpec, SimWorkerSpec, Workload } from "../types.js";

export interface NoisyOptions {
  /** One-GPU workers (one task each). */
  gpus?: number;
  /** Tasks of the noisy project A, submitted at t = 0. */
  aTasks?: number;
  /** Tasks of project B, submitted at `bDelayS`. */
  bTasks?: number;
  bDelayS?: number;
  /** Runtime of every task (s). */
  taskS?: number;
}

export const NOISY_DEFAULTS = { gpus: 16, aTasks: 5000, bTasks: 50, bDelayS: 60, taskS: 60 };

export const NOISY_PROJECTS = { a: "A", b: "B" } as const;

function gpuWorker(i: number): SimWorkerSpec {
  return {
    id: `gpu-${String(i).padStart(3, "0")}`,
    tags: ["gpu"],
    cpuMillis: 4000,
    memoryMib: 16_384,
    maxTasks: 1,
    gpus: [{ index: 0, uuid: `GPU-${i}`, model: "NVIDIA H100", memoryMib: 81_920, numaNode: 0 }],
    speed: { cpu: 1, gpu: 1, io: 1 },
    failureRate: 0,
  };
}

function gpuTask(id: string, project: string, submitMs: number, runtimeMs: number): SimTaskSpec {
  return {
    id,
    project,
    submitMs,
    runtimeMs,
    // No estimate, so no derived deadline: the comparison is about ordering, not deadlines.
    estimateMs: 0,
    deadlineMs: null,
    kind: "gpu-sweep",
    family: "gpu",
    // GPU-only billing (1 unit per GPU-second): the usage figures read as GPU-seconds.
    cpuMillis: 0,
    memoryMib: 0,
    gpuCount: 1,
    gpuModel: "",
    ioIntensity: 0,
    requiredTags: [],
    preferredTags: [],
    maxRetries: 0,
  };
}

export function noisyNeighbourWorkload(options: NoisyOptions = {}): Workload {
  const o = { ...NOISY_DEFAULTS, ...options };
  for (const [k, v] of Object.entries(o)) if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`noisy neighbour: ${k} must be a number >= 0, got ${v}`);
  if (!(o.gpus >= 1 && o.taskS > 0)) throw new RangeError("noisy neighbour: needs at least one GPU and tasks longer than 0 s");
  const runtimeMs = Math.round(o.taskS * 1000);
  const tasks: SimTaskSpec[] = [];
  for (let i = 0; i < o.aTasks; i++) tasks.push(gpuTask(`a-${String(i).padStart(5, "0")}`, NOISY_PROJECTS.a, 0, runtimeMs));
  const bAt = Math.round(o.bDelayS * 1000);
  for (let i = 0; i < o.bTasks; i++) tasks.push(gpuTask(`b-${String(i).padStart(5, "0")}`, NOISY_PROJECTS.b, bAt, runtimeMs));
  return {
    name: "noisy-neighbour",
    description: `noisy neighbour: A ${o.aTasks} x ${o.taskS} s at 0 s, B ${o.bTasks} x ${o.taskS} s at ${o.bDelayS} s, ${o.gpus} one-GPU workers`,
    workers: Array.from({ length: Math.floor(o.gpus) }, (_, i) => gpuWorker(i)),
    tasks,
  };
}
