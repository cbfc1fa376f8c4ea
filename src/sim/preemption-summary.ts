// One row of the preemption report: several seeded runs of one configuration, pooled. Waits are
// pooled over all runs' tasks before taking percentiles (one seed's few LIVE bursts make a noisy
// p95); counts and GPU-hours are per run (mean over the runs). Utilisation is measured over the
// arrival window only, while the cluster is meant to be full, not over the drain at the end.
import type { SimResult } from "./engine.js";
import type { AttemptRecord } from "./preemption-work.js";
import { type Spread, spread } from "./preemption-metrics.js";
import type { Workload } from "./types.js";

export interface SeededRun {
  workload: Workload;
  result: SimResult;
}

export interface ReportRow {
  label: string;
  runs: number;
  liveWaitS: Spread;
  /** LIVE tasks that started within `quickS` of their submit (share, 0..1). */
  liveQuickShare: number;
  batchWaitS: Spread;
  batchCompletionS: Spread;
  /** Per run: */
  preemptions: number;
  victims: number;
  rateLimited: number;
  lostGpuH: number;
  stoppingGpuH: number;
  /** BATCH tasks preempted at least once; the most times one task was. */
  batchTasksPreempted: number;
  maxPreemptionsOfOneTask: number;
  /** Victims stopped before their first checkpoint (share of the preempted attempts; 1 without checkpointing). */
  beforeFirstCheckpointShare: number;
  /** Allocated and useful GPU time over GPU capacity, in [0, windowMs]. */
  utilisation: number;
  usefulUtilisation: number;
  makespanH: number;
}

const overlap = (a: number, b: number, windowMs: number): number => Math.max(0, Math.min(b, windowMs) - Math.max(a, 0));

/** Useful part of an attempt: all of a success, the checkpointed start of a preemption, none of a failure. */
const usefulEnd = (a: AttemptRecord): number => a.startMs + a.usefulMs;

export function summarise(
  label: string,
  runs: readonly SeededRun[],
  opts: { gpus: number; windowMs: number; quickS: number; checkpointEveryMs: number | null },
): ReportRow {
  const live: number[] = [];
  const batchWait: number[] = [];
  const batchDone: number[] = [];
  let preemptions = 0;
  let victims = 0;
  let rateLimited = 0;
  let lostGpuMs = 0;
  let stoppingGpuMs = 0;
  let batchTasksPreempted = 0;
  let maxPerTask = 0;
  let preemptedAttempts = 0;
  let early = 0;
  let busy = 0;
  let useful = 0;
  let makespanS = 0;
  for (const { workload, result: r } of runs) {
    const p = r.preemption;
    if (p === undefined) throw new Error("the report needs runs with the preemption option (enabled or not)");
    const perTask = new Map<number, number>();
    for (const a of p.attempts) {
      busy += a.gpus * overlap(a.startMs, a.endMs, opts.windowMs);
      useful += a.gpus * overlap(a.startMs, usefulEnd(a), opts.windowMs);
      if (a.outcome !== "PREEMPTED") continue;
      perTask.set(a.taskIndex, (perTask.get(a.taskIndex) ?? 0) + 1);
      preemptedAttempts++;
      const progressMs = a.signalMs! - a.startMs;
      if (opts.checkpointEveryMs === null || progressMs < opts.checkpointEveryMs) early++;
    }
    batchTasksPreempted += perTask.size;
    for (const n of perTask.values()) maxPerTask = Math.max(maxPerTask, n);
    r.outcomes.forEach((o, i) => {
      const first = p.firstStartMs[i];
      if (first < 0) return;
      if (workload.tasks[i].queueClass === "LIVE") live.push((first - o.submitMs) / 1000);
      else {
        batchWait.push((first - o.submitMs) / 1000);
        if (o.finishMs >= 0) batchDone.push((o.finishMs - o.submitMs) / 1000);
      }
    });
    preemptions += p.preemptions;
    victims += p.victims;
    rateLimited += p.rateLimited;
    lostGpuMs += p.lostGpuMs;
    stoppingGpuMs += p.stoppingGpuMs;
    makespanS += r.metrics.makespanS;
  }
  const n = runs.length;
  const capacity = opts.gpus * opts.windowMs * n;
  return {
    label,
    runs: n,
    liveWaitS: spread(live),
    liveQuickShare: live.length > 0 ? live.filter((w) => w <= opts.quickS).length / live.length : 0,
    batchWaitS: spread(batchWait),
    batchCompletionS: spread(batchDone),
    preemptions: preemptions / n,
    victims: victims / n,
    rateLimited: rateLimited / n,
    lostGpuH: lostGpuMs / 3_600_000 / n,
    stoppingGpuH: stoppingGpuMs / 3_600_000 / n,
    batchTasksPreempted: batchTasksPreempted / n,
    maxPreemptionsOfOneTask: maxPerTask,
    beforeFirstCheckpointShare: preemptedAttempts > 0 ? early / preemptedAttempts : 0,
    utilisation: busy / capacity,
    usefulUtilisation: useful / capacity,
    makespanH: makespanS / 3600 / n,
  };
}
