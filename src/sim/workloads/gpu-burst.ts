// A GPU cluster kept full by batch training, with bursts of latency-sensitive inference (issue 16's
// case for preemption): without it a LIVE task waits for some training task to end, with it for a
// victim to checkpoint and exit. Seeded (mulberry32), deterministic for a seed.
//   - BATCH training: a backlog at t = 0 (enough to fill every GPU `backlog` times over), then a
//     Poisson stream offering `batchLoad` x the cluster's GPUs; 1, 2 or 4 GPUs (no whole-node jobs:
//     without reservations they would starve and leave GPUs idle, which is not this case), runtimes
//     log-uniform between `batchMinS` and `batchMaxS`.
//   - LIVE inference: bursts at exponential intervals (mean `burstEveryS`), each of `burstMin` to
//     `burstMax` tasks spread over `burstSpreadS`; 1 or 2 GPUs, runtimes log-uniform in
//     [`liveMinS`, `liveMaxS`].
// Arrivals stop at `hours`; the run goes on until the queue drains. No failures, speed 1, no I/O:
// each task's work is exactly its runtime, whatever preemption does to it.
import { int, mulberry32, type Rng } from "../../core/random.js";
import type { SimTaskSpec, SimWorkerSpec, Workload } from "../types.js";

export interface GpuBurstOptions {
  seed: number;
  workers?: number;
  gpusPerWorker?: number;
  /** Arrivals stop after this many hours. */
  hours?: number;
  /** BATCH GPU-seconds offered per second, over the cluster's GPUs. */
  batchLoad?: number;
  /** BATCH GPU work queued at t = 0, in multiples of the cluster's GPUs x the mean runtime. */
  backlog?: number;
  batchMinS?: number;
  batchMaxS?: number;
  burstEveryS?: number;
  burstMin?: number;
  burstMax?: number;
  burstSpreadS?: number;
  liveMinS?: number;
  liveMaxS?: number;
}

export const GPU_BURST_DEFAULTS = {
  workers: 8,
  gpusPerWorker: 8,
  hours: 12,
  batchLoad: 1.0,
  backlog: 1.5,
  batchMinS: 300,
  batchMaxS: 3600,
  burstEveryS: 1800,
  burstMin: 4,
  burstMax: 12,
  burstSpreadS: 30,
  liveMinS: 30,
  liveMaxS: 300,
};

/** BATCH GPU counts and their weights. */
export const BATCH_GPUS: readonly (readonly [number, number])[] = [
  [1, 0.4],
  [2, 0.35],
  [4, 0.25],
];
const CORES_PER_GPU = 6;
const MIB_PER_GPU = 65_536;

const logUniform = (rng: Rng, lo: number, hi: number): number => lo * Math.exp(rng() * Math.log(hi / lo));
const exponential = (rng: Rng, mean: number): number => -mean * Math.log(1 - rng());
/** Mean of the log-uniform distribution on [lo, hi]. */
const logUniformMean = (lo: number, hi: number): number => (hi - lo) / Math.log(hi / lo);

function batchGpus(rng: Rng): number {
  let u = rng();
  for (const [gpus, weight] of BATCH_GPUS) if ((u -= weight) < 0) return gpus;
  return BATCH_GPUS[BATCH_GPUS.length - 1][0];
}

function worker(i: number, gpus: number): SimWorkerSpec {
  return {
    id: `gpu-node-${i}`,
    tags: ["gpu"],
    // CPU and memory never bind: the GPUs are the contended resource.
    cpuMillis: (gpus * CORES_PER_GPU + 16) * 1000,
    memoryMib: gpus * MIB_PER_GPU * 2,
    maxTasks: gpus * 2,
    gpus: Array.from({ length: gpus }, (_, g) => ({
      index: g,
      uuid: `GPU-${i}-${g}`,
      model: "NVIDIA H100",
      memoryMib: 81_920,
      numaNode: g < gpus / 2 ? 0 : 1,
    })),
    speed: { cpu: 1, gpu: 1, io: 1 },
    failureRate: 0,
  };
}

function task(id: string, submitMs: number, runtimeMs: number, gpus: number, live: boolean): SimTaskSpec {
  return {
    id,
    submitMs,
    runtimeMs,
    // No estimate, so no derived deadline: the comparison is about waits and lost work.
    estimateMs: 0,
    deadlineMs: null,
    kind: live ? "gpu-infer" : "gpu-train",
    family: "gpu",
    cpuMillis: gpus * CORES_PER_GPU * 1000,
    memoryMib: gpus * MIB_PER_GPU,
    gpuCount: gpus,
    gpuModel: "",
    ioIntensity: 0,
    requiredTags: [],
    preferredTags: [],
    maxRetries: 0,
    queueClass: live ? "LIVE" : "BATCH",
  };
}

export function gpuBurstWorkload(options: GpuBurstOptions): Workload {
  const o = { ...GPU_BURST_DEFAULTS, ...options };
  const rng = mulberry32(o.seed ^ 0x6b75);
  const gpus = o.workers * o.gpusPerWorker;
  const horizonMs = o.hours * 3_600_000;
  const batchMeanS = logUniformMean(o.batchMinS, o.batchMaxS);
  const meanGpus = BATCH_GPUS.reduce((s, [g, w]) => s + g * w, 0);
  const tasks: SimTaskSpec[] = [];
  let n = 0;
  const batch = (atMs: number): void => {
    const g = batchGpus(rng);
    tasks.push(task(`train-${String(n++).padStart(5, "0")}`, atMs, Math.round(1000 * logUniform(rng, o.batchMinS, o.batchMaxS)), g, false));
  };
  // The backlog: the cluster is full from the first instant.
  let backlogGpuS = 0;
  while (backlogGpuS < o.backlog * gpus * batchMeanS) {
    batch(0);
    backlogGpuS += tasks[tasks.length - 1].gpuCount * (tasks[tasks.length - 1].runtimeMs / 1000);
  }
  // Poisson arrivals offering batchLoad x gpus GPU-seconds per second.
  const batchMeanGapS = (meanGpus * batchMeanS) / (o.batchLoad * gpus);
  for (let t = exponential(rng, batchMeanGapS) * 1000; t < horizonMs; t += exponential(rng, batchMeanGapS) * 1000) batch(Math.round(t));
  let m = 0;
  for (let t = exponential(rng, o.burstEveryS) * 1000; t < horizonMs; t += exponential(rng, o.burstEveryS) * 1000) {
    const size = int(rng, o.burstMin, o.burstMax);
    for (let k = 0; k < size; k++) {
      const at = Math.round(t + rng() * o.burstSpreadS * 1000);
      const runtimeMs = Math.round(1000 * logUniform(rng, o.liveMinS, o.liveMaxS));
      tasks.push(task(`infer-${String(m++).padStart(4, "0")}`, at, runtimeMs, rng() < 0.5 ? 1 : 2, true));
    }
  }
  tasks.sort((a, b) => a.submitMs - b.submitMs || (a.id < b.id ? -1 : 1));
  return {
    name: "gpu-burst",
    description: `${o.workers} workers x ${o.gpusPerWorker} GPUs; BATCH training at load ${o.batchLoad} over ${o.hours} h (backlog ${o.backlog}x), LIVE bursts every ~${o.burstEveryS / 60} min`,
    workers: Array.from({ length: o.workers }, (_, i) => worker(i, o.gpusPerWorker)),
    tasks,
  };
}
