// RTS placement (DESIGN §3): score every feasible candidate with
//   score = wD*D + wA*A + wL*L + wI*I + wS*S - wP*P
// and pick the highest; ties go to the lowest worker id. Falls back to round-robin, with the reason
// recorded in the decision, when RTS cannot decide: weights never loaded ("weights_not_loaded"), no
// candidate with fresh telemetry ("no_fresh_telemetry"), or an exception while scoring ("rts_error").
import type { Candidate, PlacementChoice, PlacementStrategy, RoundRobinPlacement } from "../placement.js";
import type { ScoreBreakdown, Task, Telemetry } from "../types.js";
import {
  affinity as affinityFactor,
  deadlineFit,
  gpuHostReserve,
  io as ioFactor,
  load as loadFactor,
  penalty as penaltyFactor,
  success as successFactor,
} from "./factors.js";
import type { KindTotals, LearningTable, PenaltyTable, RecentKinds } from "./learning.js";
import type { WeightSet, Weights } from "./weights.js";

export const FALLBACK_WEIGHTS_NOT_LOADED = "weights_not_loaded";
export const FALLBACK_NO_FRESH_TELEMETRY = "no_fresh_telemetry";
export const FALLBACK_RTS_ERROR = "rts_error";

export interface RtsPlacementOptions {
  /** The current weight set (read once per decision, so a swap never splits a decision); null = never loaded. */
  weights: () => WeightSet | null;
  learning: LearningTable;
  penalties: PenaltyTable;
  recentKinds: RecentKinds;
  /** Telemetry older than this (now - sampledAtMs) is not fresh. */
  telemetryMaxAgeMs: number;
  fallback: RoundRobinPlacement;
}

/** What was learned about the task's kind, looked up once per task rather than per candidate. */
interface KindLearning {
  rows: ReturnType<LearningTable["forKind"]>;
  /** Over all workers: S compares each worker's record with it. */
  totals: Readonly<KindTotals> | undefined;
}

function isFresh(t: Telemetry | null, nowMs: number, maxAgeMs: number): t is Telemetry {
  return t !== null && Number.isFinite(t.sampledAtMs) && nowMs - t.sampledAtMs <= maxAgeMs;
}

function checkWeights(w: Weights): void {
  for (const key of ["deadline", "affinity", "load", "io", "success", "penalty"] as const) {
    const v = w[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new Error(`weight ${key} is ${v}`);
  }
}

function emptyBreakdown(): ScoreBreakdown {
  return { workerId: "", score: 0, deadline: 0, affinity: 0, load: 0, io: 0, success: 0, penalty: 0 };
}

/** Strictly better: higher score, or the same score and a lower worker id. */
function better(a: ScoreBreakdown, b: ScoreBreakdown): boolean {
  return a.score > b.score || (a.score === b.score && a.workerId < b.workerId);
}

export class RtsPlacement implements PlacementStrategy {
  readonly name = "rts";

  constructor(private readonly options: RtsPlacementOptions) {}

  choose(task: Task, candidates: Candidate[], nowMs: number): PlacementChoice {
    const weightSet = this.options.weights();
    if (weightSet === null) return this.fallback(task, candidates, nowMs, FALLBACK_WEIGHTS_NOT_LOADED);
    try {
      const maxAge = this.options.telemetryMaxAgeMs;
      let anyFresh = false;
      for (const c of candidates) {
        if (isFresh(c.slot.worker.telemetry, nowMs, maxAge)) {
          anyFresh = true;
          break;
        }
      }
      if (!anyFresh) return this.fallback(task, candidates, nowMs, FALLBACK_NO_FRESH_TELEMETRY);
      return this.score(task, candidates, nowMs, weightSet);
    } catch {
      return this.fallback(task, candidates, nowMs, FALLBACK_RTS_ERROR);
    }
  }

  /** The breakdown of one candidate (exported for explanations and tests). */
  breakdown(task: Task, candidate: Candidate, nowMs: number, weights: Weights): ScoreBreakdown {
    const spec = task.spec;
    const { learning } = this.options;
    const kind = { rows: learning.forKind(spec.kind), totals: learning.kindTotals(spec.kind) };
    return this.scoreInto(emptyBreakdown(), task, candidate, nowMs, weights, kind, task.deadlineMs ?? spec.deadlineMs);
  }

  /** Scores one candidate into `out` (reused objects: no allocation per candidate). */
  private scoreInto(
    out: ScoreBreakdown,
    task: Task,
    candidate: Candidate,
    nowMs: number,
    w: Weights,
    kind: KindLearning,
    deadlineMs: number | null,
  ): ScoreBreakdown {
    const spec = task.spec;
    const { slot } = candidate;
    const worker = slot.worker;
    const id = worker.id;
    const stats = kind.rows?.get(id);
    const telemetry = isFresh(worker.telemetry, nowMs, this.options.telemetryMaxAgeMs) ? worker.telemetry : null;
    const deadline = deadlineFit(nowMs, deadlineMs, spec.estimateMs, stats?.runtimeRatio ?? 1);
    const affinity = affinityFactor(spec.preferredTags, slot.tagSet, this.options.recentKinds.warmth(id, spec.kind, nowMs));
    const gpuTask = spec.resources.gpuCount > 0;
    const capacity = worker.capacity;
    const reserve = gpuTask ? null : gpuHostReserve(slot.allocatedCpuMillis, capacity.cpuMillis, capacity.gpus.length, slot.allocatedGpus.size);
    const load = loadFactor(slot.allocations.size, capacity.maxTasks, telemetry, gpuTask, reserve);
    const io = ioFactor(telemetry ? telemetry.ioPressure : null, spec.ioIntensity);
    const success = successFactor(stats, kind.totals);
    const penalty = penaltyFactor(this.options.penalties, id, nowMs);
    const score = w.deadline * deadline + w.affinity * affinity + w.load * load + w.io * io + w.success * success - w.penalty * penalty;
    if (!Number.isFinite(score)) throw new Error(`non-finite score for ${id}`);
    out.workerId = id;
    out.score = score;
    out.deadline = deadline;
    out.affinity = affinity;
    out.load = load;
    out.io = io;
    out.success = success;
    out.penalty = penalty;
    return out;
  }

  private score(task: Task, candidates: Candidate[], nowMs: number, weightSet: WeightSet): PlacementChoice {
    const w = weightSet.weights;
    checkWeights(w);
    const { learning } = this.options;
    const kind = { rows: learning.forKind(task.spec.kind), totals: learning.kindTotals(task.spec.kind) };
    const deadlineMs = task.deadlineMs ?? task.spec.deadlineMs;
    // Three breakdown objects rotate: the candidate being scored, the best, the runner-up.
    let current = emptyBreakdown();
    let best: ScoreBreakdown | null = null;
    let runnerUp: ScoreBreakdown | null = null;
    let bestCandidate: Candidate = candidates[0];
    for (const c of candidates) {
      const b = this.scoreInto(current, task, c, nowMs, w, kind, deadlineMs);
      if (best === null || better(b, best)) {
        current = runnerUp ?? emptyBreakdown();
        runnerUp = best;
        best = b;
        bestCandidate = c;
      } else if (runnerUp === null || better(b, runnerUp)) {
        current = runnerUp ?? emptyBreakdown();
        runnerUp = b;
      }
    }
    return {
      candidate: bestCandidate,
      decision: {
        strategy: "rts",
        fallbackReason: "",
        feasibleWorkers: candidates.length,
        chosen: best,
        runnerUp,
        weightsVersion: weightSet.version,
      },
    };
  }

  private fallback(task: Task, candidates: Candidate[], nowMs: number, reason: string): PlacementChoice {
    return this.options.fallback.choose(task, candidates, nowMs, reason);
  }
}
