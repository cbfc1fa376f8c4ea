// Seeded heterogeneous workload (run by the RTS-vs-round-robin report, docs/results/rts-vs-rr.md,
// and by the GA tuner): CPU-, GPU- and IO-bound kinds on a fleet of workers of different speeds,
// some of them flaky; user estimates with noise; deadlines from sla_multiplier (the engine derives
// submit + estimate x sla). Deterministic for a seed (mulberry32).
import { mulberry32, pick, type Rng } from "../../core/random.js";
import type { Gpu } from "../../core/types.js";
import type { Family, SimTaskSpec, SimWorkerSpec, Workload } from "../types.js";

export interface HeteroOptions {
  seed: number;
  tasks?: number;
  workers?: number;
  /** Offered load: the busier of CPU and GPU demand over capacity (at nominal speed). */
  load?: number;
  /** Share of flaky workers and their failure rate. */
  flakyShare?: number;
  flakyFailureRate?: number;
}

export const HETERO_DEFAULTS = { tasks: 20_000, workers: 50, load: 0.8, flakyShare: 0.1, flakyFailureRate: 0.15 };

interface KindDef {
  kind: string;
  family: Family;
  share: number;
  medianS: number;
}

export const HETERO_KINDS: readonly KindDef[] = [
  { kind: "cpu-build", family: "cpu", share: 0.2, medianS: 60 },
  { kind: "cpu-test", family: "cpu", share: 0.15, medianS: 30 },
  { kind: "cpu-sim", family: "cpu", share: 0.15, medianS: 240 },
  { kind: "cpu-encode", family: "cpu", share: 0.1, medianS: 120 },
  { kind: "gpu-train", family: "gpu", share: 0.08, medianS: 120 },
  { kind: "gpu-infer", family: "gpu", share: 0.12, medianS: 45 },
  { kind: "io-etl", family: "io", share: 0.12, medianS: 90 },
  { kind: "io-index", family: "io", share: 0.08, medianS: 40 },
];

const logUniform = (rng: Rng, lo: number, hi: number): number => lo * Math.exp(rng() * Math.log(hi / lo));
function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}
const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/**
 * Workers: 16 or 32 cores (4 GiB per core, cores/2 task slots); 30% are 32-core machines with 8
 * A100 GPUs; 40% have
 * an SSD. Each worker has a hardware generation g (log-uniform 0.5x-2x runtime multiplier) and per
 * family a jitter of 0.8x-1.25x (clamped to 0.5x-2x); IO work runs 0.7x on SSD workers, 1.3x
 * elsewhere. A `flakyShare` of workers fail attempts at `flakyFailureRate`, the rest at 0.5%.
 */
export function heteroWorkers(rng: Rng, n: number, o: Required<Omit<HeteroOptions, "seed" | "tasks" | "workers" | "load">>): SimWorkerSpec[] {
  const workers: SimWorkerSpec[] = [];
  for (let i = 0; i < n; i++) {
    const gpuWorker = rng() < 0.3;
    const cores = gpuWorker ? 32 : pick(rng, [16, 32]);
    const gpus: Gpu[] = [];
    const tags = [rng() < 0.5 ? "zone=a" : "zone=b"];
    if (gpuWorker) {
      for (let g = 0; g < 8; g++) gpus.push({ index: g, uuid: `GPU-${i}-${g}`, model: "NVIDIA A100", memoryMib: 40960, numaNode: 0 });
      tags.push("gpu");
    }
    const ssd = rng() < 0.4;
    if (ssd) tags.push("ssd");
    const gen = logUniform(rng, 0.5, 2);
    const fam = (): number => clamp(gen * logUniform(rng, 0.8, 1.25), 0.5, 2);
    const speed = { cpu: fam(), gpu: fam(), io: clamp(fam() * (ssd ? 0.7 : 1.3), 0.5, 2.6) };
    workers.push({
      id: `w-${String(i).padStart(5, "0")}`,
      tags,
      cpuMillis: cores * 1000,
      memoryMib: cores * 4096,
      maxTasks: cores / 2,
      gpus,
      speed,
      failureRate: rng() < o.flakyShare ? o.flakyFailureRate : 0.005,
    });
  }
  return workers;
}

export function heteroWorkload(options: HeteroOptions): Workload {
  const o = { ...HETERO_DEFAULTS, ...options };
  const rng = mulberry32(o.seed);
  const workers = heteroWorkers(rng, o.workers, o);
  const tasks: SimTaskSpec[] = [];
  let coreS = 0;
  let gpuS = 0;
  const gaps: number[] = [];
  for (let i = 0; i < o.tasks; i++) {
    let r = rng();
    let def = HETERO_KINDS[HETERO_KINDS.length - 1];
    for (const k of HETERO_KINDS) {
      if (r < k.share) {
        def = k;
        break;
      }
      r -= k.share;
    }
    const runtimeS = clamp(def.medianS * Math.exp(0.6 * normal(rng)), 2, 1200);
    const estimateS = Math.max(1, Math.round(runtimeS * Math.exp(0.25 * normal(rng))));
    const cpus = def.family === "cpu" ? pick(rng, [1, 2, 2, 4]) : def.family === "gpu" ? 4 : 1;
    const gpuCount = def.family === "gpu" ? 1 : 0;
    coreS += cpus * runtimeS;
    gpuS += gpuCount * runtimeS;
    gaps.push(-Math.log(1 - rng()));
    tasks.push({
      id: `t-${String(i).padStart(6, "0")}`,
      submitMs: 0,
      runtimeMs: Math.round(runtimeS * 1000),
      estimateMs: estimateS * 1000,
      deadlineMs: null,
      kind: def.kind,
      family: def.family,
      cpuMillis: cpus * 1000,
      memoryMib: cpus * pick(rng, [1024, 2048, 4096]),
      gpuCount,
      gpuModel: gpuCount > 0 ? "a100" : "",
      ioIntensity: def.family === "io" ? Math.round((0.5 + 0.5 * rng()) * 100) / 100 : Math.round(0.1 * rng() * 100) / 100,
      requiredTags: [],
      preferredTags: def.family === "io" ? ["ssd"] : [],
      maxRetries: 2,
    });
  }
  // Poisson arrivals at the rate that offers `load` of the busier resource at nominal speed.
  const cores = workers.reduce((s, w) => s + w.cpuMillis / 1000, 0);
  const gpus = workers.reduce((s, w) => s + w.gpus.length, 0);
  const spanS = Math.max(coreS / cores, gpus > 0 ? gpuS / gpus : 0) / o.load;
  const meanGap = (spanS * 1000) / o.tasks;
  let t = 0;
  for (let i = 0; i < tasks.length; i++) {
    t += gaps[i] * meanGap;
    tasks[i].submitMs = Math.round(t);
  }
  return {
    name: "hetero",
    description: `hetero seed=${o.seed} tasks=${o.tasks} workers=${o.workers} load=${o.load} flaky=${o.flakyShare}@${o.flakyFailureRate}`,
    workers,
    tasks,
  };
}
