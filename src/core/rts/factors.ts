// The six RTS factors of DESIGN §3, each a small pure function returning a finite number in [0,1].
// score = wD*D + wA*A + wL*L + wI*I + wS*S - wP*P (see rts-placement.ts). docs/scheduling.md lists
// the same formulas; keep the two in step.
import type { Telemetry } from "../types.js";
import type { LearningStats, PenaltyTable } from "./learning.js";

/** Share of the affinity factor given to warmth (recently ran the same kind); the rest is tag share. */
export const WARMTH_SHARE = 0.25;
/**
 * Beta(a, b) prior shared by both success estimates of the S factor (see success()). Mean 2/3
 * (attempts usually succeed); 6 pseudo-attempts of weight, so one or two results move S only a
 * little and both estimates stay away from 0 and 1, where log-odds explode.
 */
export const SUCCESS_PRIOR_A = 4;
export const SUCCESS_PRIOR_B = 2;
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

/** Success and failure counts: one (kind, worker) row, or a kind's totals (LearningTable.kindTotals). */
export type SuccessCounts = Pick<LearningStats, "successes" | "failures">;

const count = (x: number | undefined): number => (x !== undefined && x > 0 && Number.isFinite(x) ? x : 0);

/**
 * S, success, relative to the kind: is this worker better or worse at this kind than the fleet?
 * With s, f = this worker's successes and failures for the kind, n = s + f, r = the kind's success
 * rate over all workers (this one included), and the Beta(a=4, b=2) prior:
 *   own = (s + a) / (n + a + b)           posterior mean of this worker's success rate
 *   ref = (n x r + a) / (n + a + b)       the same for a worker with as many attempts at the rate r
 *   S   = own(1 - ref) / (own(1 - ref) + ref(1 - own))   = odds(own) / (odds(own) + odds(ref))
 * Why relative: a command that fails everywhere (a user's bug) has r = 0 and s = 0, so own = ref
 * and S = 0.5 on every worker, whatever their attempt counts; only a worker that fails a kind
 * others run fine falls below 0.5. Why `ref` takes the worker's own n instead of the kind-wide
 * posterior: both estimates are shrunk by the same prior by the same amount, so S = 0.5 exactly
 * when the worker's observed rate equals the kind's, and with few attempts both sit near the prior
 * (S near 0.5). Why odds: a worker failing 10% of a kind others fail 1% of is 10x worse, which a
 * difference of rates (0.09) would hide. Why r includes the worker: when few others ran the kind,
 * r is mostly the worker's own rate and S stays near 0.5 (with one machine, machine and code
 * cannot be told apart). Unknown (kind, worker), or a kind nobody ran: 0.5. Always in [0,1].
 */
export function success(stats: SuccessCounts | undefined, kind: SuccessCounts | undefined): number {
  const s = count(stats?.successes);
  const n = s + count(stats?.failures);
  if (n === 0) return 0.5;
  // The kind's totals include this worker's row; a caller's stale totals never drop below it.
  const kindSuccesses = Math.max(count(kind?.successes), s);
  const kindAttempts = Math.max(kindSuccesses + count(kind?.failures), n);
  const rate = kindSuccesses / kindAttempts;
  const denominator = n + SUCCESS_PRIOR_A + SUCCESS_PRIOR_B;
  const own = (s + SUCCESS_PRIOR_A) / denominator;
  const ref = (n * rate + SUCCESS_PRIOR_A) / denominator;
  const better = own * (1 - ref);
  return clamp01(better / (better + ref * (1 - own)), 0.5);
}

/**
 * P, penalty: c = decayed count of recent SLA misses and failures on the worker,
 * c(t) = sum of weights x 2^(-age/half-life) (half-life 10 min by default), P = 1 - exp(-c/2).
 */
export function penalty(penalties: Pick<PenaltyTable, "value">, workerId: string, nowMs: number): number {
  return clamp01(penalties.value(workerId, nowMs), 0);
}
