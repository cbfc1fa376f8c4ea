// What a run with the preemption option reports: how often work was stopped, what that threw away
// (lost work and time spent stopping, in GPU- and core-ms), and waits per queue class. The waits
// are to the task's *first* start: RunMetrics measures to the final attempt's start, which for a
// preempted task includes the run it lost, and would hide what preemption did to its wait.
import type { QueueClass } from "../core/types.js";
import type { TaskOutcome } from "./metrics.js";
import type { AttemptRecord, WorkLedger } from "./preemption-work.js";

export interface Spread {
  mean: number;
  p50: number;
  p95: number;
  max: number;
}

export interface ClassMetrics {
  tasks: number;
  /** Tasks that finished (succeeded or failed for good). */
  completed: number;
  /** Seconds from submit to the first start, over tasks that started. */
  waitS: Spread;
  /** Seconds from submit to the finish, over completed tasks. */
  turnaroundS: Spread;
  /** Attempts of this class's tasks ended by preemption. */
  preempted: number;
}

export interface PreemptionLogEntry {
  atMs: number;
  preemptor: string;
  workerId: string;
  /** Victim task ids. */
  victims: string[];
}

export interface PreemptionResult {
  enabled: boolean;
  /** Preemptions started: one preemptor's victim set each (what the rate limit counts). */
  preemptions: number;
  /** Victim attempts signalled. */
  victims: number;
  /** Signalled victims that finished their work within the stop delay (nothing lost). */
  finishedWhileStopping: number;
  /** Tasks held back by the rate limit (once per episode, as the master counts them). */
  rateLimited: number;
  /** Run time thrown away by preemption (since each victim's last checkpoint). */
  lostGpuMs: number;
  lostCoreMs: number;
  /** Signal to exit of the victims: held, gaining nothing. */
  stoppingGpuMs: number;
  stoppingCoreMs: number;
  /** Allocated GPU time of every attempt, and the part that counted toward a result. */
  busyGpuMs: number;
  usefulGpuMs: number;
  classes: Partial<Record<QueueClass, ClassMetrics>>;
  log: PreemptionLogEntry[];
  attempts: readonly AttemptRecord[];
  /** Per task (workload order): its first start (-1 never started). */
  firstStartMs: number[];
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { mean: 0, p50: 0, p95: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { mean: sum / sorted.length, p50: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] };
}

export interface PreemptionCounters {
  enabled: boolean;
  preemptions: number;
  rateLimited: number;
  finishedWhileStopping: number;
  log: PreemptionLogEntry[];
}

export function preemptionResult(
  ledger: WorkLedger,
  outcomes: readonly TaskOutcome[],
  classOf: (taskIndex: number) => QueueClass,
  c: PreemptionCounters,
): PreemptionResult {
  const r: PreemptionResult = {
    enabled: c.enabled,
    preemptions: c.preemptions,
    victims: 0,
    finishedWhileStopping: c.finishedWhileStopping,
    rateLimited: c.rateLimited,
    lostGpuMs: 0,
    lostCoreMs: 0,
    stoppingGpuMs: 0,
    stoppingCoreMs: 0,
    busyGpuMs: 0,
    usefulGpuMs: 0,
    classes: {},
    log: c.log,
    attempts: ledger.attempts,
    firstStartMs: outcomes.map((_, i) => ledger.firstStartMs(i)),
  };
  const preemptedOf = new Map<QueueClass, number>();
  for (const a of ledger.attempts) {
    r.busyGpuMs += a.gpus * (a.endMs - a.startMs);
    r.usefulGpuMs += a.gpus * a.usefulMs;
    if (a.outcome !== "PREEMPTED") continue;
    r.victims++;
    r.lostGpuMs += a.gpus * a.lostMs;
    r.lostCoreMs += a.cores * a.lostMs;
    r.stoppingGpuMs += a.gpus * a.stoppingMs;
    r.stoppingCoreMs += a.cores * a.stoppingMs;
    const k = classOf(a.taskIndex);
    preemptedOf.set(k, (preemptedOf.get(k) ?? 0) + 1);
  }
  // Victims that finished within their stop delay were signalled too.
  r.victims += c.finishedWhileStopping;
  const byClass = new Map<QueueClass, { tasks: number; completed: number; waits: number[]; turnarounds: number[] }>();
  outcomes.forEach((o, i) => {
    const k = classOf(i);
    let acc = byClass.get(k);
    if (acc === undefined) byClass.set(k, (acc = { tasks: 0, completed: 0, waits: [], turnarounds: [] }));
    acc.tasks++;
    const first = ledger.firstStartMs(i);
    if (first >= 0) acc.waits.push((first - o.submitMs) / 1000);
    if (o.finishMs >= 0) {
      acc.completed++;
      acc.turnarounds.push((o.finishMs - o.submitMs) / 1000);
    }
  });
  for (const [k, acc] of byClass)
    r.classes[k] = {
      tasks: acc.tasks,
      completed: acc.completed,
      waitS: spread(acc.waits),
      turnaroundS: spread(acc.turnarounds),
      preempted: preemptedOf.get(k) ?? 0,
    };
  return r;
}
