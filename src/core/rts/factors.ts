// The six RTS factors of DESIGN §3, each a small pure function returning a finite number in [0,1].
// score = wD*D + wA*A + wL*L + wI*I + wS*S - wP*P (see rts-placement.ts). docs/scheduling.md lists
// the same formulas; keep the two in step.
import type { Telemetry } from "../types.js";
import type { LearningStats, PenaltyTable } from "./learning.js";

/** Share of the affinity factor given to warmth (recently ran the same kind); the rest is tag share. */
export const WARMTH_SHARE = 0.25;
/** Beta prior of the success factor: S = (successes + a) / (successes + failures + a + b). */
export const SUCCESS_PRIOR_A = 2;
export const SUCCESS_PRIOR_B = 1;
/** I/O pressure assumed when a worker has no (fresh, finite) telemetry. */
export const UNKNOWN_IO_PRESSURE = 0.5;

/** x clamped to [0,1]; `fallback` (itself in [0,1]) when x is NaN. +-Infinity clamp to 1/0. */
export function clamp01(x: number, fallback = 0): number {
  if (Number.isNaN(x)) return fallback;
  return x <= 0 ? 0 : Math.min(x, 1);
}

/**
 * D, deadline fit. With W = deadline - now (the time left) and p = estimate x ratio (the predicted
 * runtime on this worker, ratio = learned actual/estimated runtime for (kind, worker), 1 unknown):
 *   D = 1                  when there is no deadline or no estimate (nothing to miss / nothing known)
 *   D = 0                  when W <= 0 (already late) or p > W (predicted to miss)
 *   D = (W - p) / W        otherwise: the share of the time left that stays as slack
 * So a task with a derived deadline (submit + 2 x estimate) placed at once on a worker with ratio
 * 1 gets D = 0.5; on a worker learned to be twice as fast (ratio 0.5), 0.75.
 */
export function deadlineFit(nowMs: number, deadlineMs: number | null, estimateMs: number, runtimeRatio = 1): number {
  if (deadlineMs === null || !Number.isFinite(deadlineMs)) return 1;
  if (!(estimateMs > 0) || !Number.isFinite(estimateMs)) return 1;
  const ratio = runtimeRatio > 0 && Number.isFinite(runtimeRatio) ? runtimeRatio : 1;
  const window = deadlineMs - nowMs;
  if (!(window > 0)) return 0;
  const predicted = estimateMs * ratio;
  if (predicted > window) return 0;
  return clamp01((window - predicted) / window, 0);
}

/**
 * A, affinity. share = |preferred tags present on the worker| / |preferred tags| (1 when the task
 * prefers none: no preference is unmet); warmth in [0,1] = 2^(-age/half-life) of the last time the
 * worker ran this kind (RecentKinds), 0 when never or no kind:
 *   A = (1 - WARMTH_SHARE) x share + WARMTH_SHARE x warmth      (WARMTH_SHARE = 0.25)
 */
export function affinity(preferredTags: readonly string[], workerTags: ReadonlySet<string>, warmth: number): number {
  let share = 1;
  if (preferredTags.length > 0) {
    let present = 0;
    for (const tag of preferredTags) if (workerTags.has(tag)) present++;
    share = present / preferredTags.length;
  }
  return clamp01((1 - WARMTH_SHARE) * share + WARMTH_SHARE * clamp01(warmth, 0), 0);
}

/**
 * Share of a GPU worker's CPU that a task asking for no GPU would contend for: the CPU already
 * allocated plus, at cpu / gpus per GPU, the CPU its idle GPUs need to be fed,
 *   reserve = min(1, allocatedCpu / cpu + idleGpus / gpus),
 * or null when the worker has no GPUs or no CPU capacity (nothing to reserve). Why: CPU-only work
 * spread over GPU hosts takes the cores GPU tasks need, stranding free GPUs while GPU tasks queue
 * (in the hetero simulation, GPU-saturated seeds had 5-9 of 88 GPUs free-but-unusable on average
 * whenever GPU tasks waited). Like Kubernetes' scarce-resource avoidance, this is a soft
 * preference: a GPU host still takes CPU work when the CPU-only workers are busier.
 */
export function gpuHostReserve(allocatedCpuMillis: number, cpuMillis: number, gpuCount: number, allocatedGpus: number): number | null {
  if (!(gpuCount > 0) || !(cpuMillis > 0)) return null;
  return clamp01(allocatedCpuMillis / cpuMillis + (gpuCount - allocatedGpus) / gpuCount, 1);
}

/**
 * L, load. slots = running / maxTasks (1 when maxTasks <= 0); cpu = clamp01(telemetry.cpuLoad)
 * (the agent reports 1-minute loadavg / cores); gpu = mean over the worker's GPUs of
 * clamp01(utilizationPercent / 100), only for a task that asks for GPUs; reserve = gpuHostReserve
 * of the worker, only for a task that asks for no GPU on a worker with GPUs (pass null otherwise):
 *   L = 1 - mean(slots, cpu[, gpu][, reserve])
 * Without (fresh) telemetry pass null: L = 1 - mean(slots[, reserve]). Non-finite telemetry values
 * are left out of the mean (as if not reported).
 */
export function load(running: number, maxTasks: number, telemetry: Telemetry | null, gpuTask: boolean, reserve: number | null = null): number {
  const slots = maxTasks > 0 ? clamp01(running / maxTasks, 1) : 1;
  let sum = slots;
  let n = 1;
  if (!gpuTask && reserve !== null) {
    sum += clamp01(reserve, 1);
    n++;
  }
  if (telemetry === null) return clamp01(1 - sum / n, 0);
  const cpu = telemetry.cpuLoad;
  if (cpu !== undefined && !Number.isNaN(cpu)) {
    sum += clamp01(cpu, 0);
    n++;
  }
  if (gpuTask && telemetry.gpus && telemetry.gpus.length > 0) {
    let gpuSum = 0;
    let gpuN = 0;
    for (const g of telemetry.gpus) {
      const u = g.utilizationPercent;
      if (Number.isFinite(u)) {
        gpuSum += clamp01(u / 100, 0);
        gpuN++;
      }
    }
    if (gpuN > 0) {
      sum += gpuSum / gpuN;
      n++;
    }
  }
  return clamp01(1 - sum / n, 0);
}

/**
 * I, io. pressure = the worker's I/O pressure in [0,1] (PSI "some" share; UNKNOWN_IO_PRESSURE = 0.5
 * when null or not finite), intensity = the task's io_intensity in [0,1] (0 when not finite):
 *   I = 1 - pressure x intensity
 */
export function io(ioPressure: number | null, ioIntensity: number): number {
  const pressure = ioPressure === null ? UNKNOWN_IO_PRESSURE : clamp01(ioPressure, UNKNOWN_IO_PRESSURE);
  return clamp01(1 - pressure * clamp01(ioIntensity, 0), 1);
}

/**
 * S, success: posterior mean of a Beta(a=2, b=1) prior updated with this worker's record for this
 * kind:  S = (successes + 2) / (successes + failures + 3).  Unknown (kind, worker): 2/3.
 */
export function success(stats: Pick<LearningStats, "successes" | "failures"> | undefined): number {
  const s = stats && stats.successes > 0 && Number.isFinite(stats.successes) ? stats.successes : 0;
  const f = stats && stats.failures > 0 && Number.isFinite(stats.failures) ? stats.failures : 0;
  return clamp01((s + SUCCESS_PRIOR_A) / (s + f + SUCCESS_PRIOR_A + SUCCESS_PRIOR_B), 0);
}

/**
 * P, penalty: c = decayed count of recent SLA misses and failures on the worker,
 * c(t) = sum of weights x 2^(-age/half-life) (half-life 10 min by default), P = 1 - exp(-c/2).
 */
export function penalty(penalties: Pick<PenaltyTable, "value">, workerId: string, nowMs: number): number {
  return clamp01(penalties.value(workerId, nowMs), 0);
}
