// Per-run metrics of a simulation (DESIGN §3 "Deadlines / SLA"): wait, turnaround, bounded
// slowdown, utilisation, throughput, deadline-miss rate, fallback rate. Pure functions.

/** Bound of the bounded slowdown (10 s). */
export const SLOWDOWN_BOUND_MS = 10_000;

export interface TaskOutcome {
  submitMs: number;
  deadlineMs: number | null;
  /** Start of the final attempt (-1 never started). */
  startMs: number;
  /** Finish of the final attempt (-1 never finished). */
  finishMs: number;
  /** Runtime of the final attempt. */
  runMs: number;
  succeeded: boolean;
  attempts: number;
  /** The task's project (per-project metrics; absent: "sim"). */
  project?: string;
}

export interface Summary {
  mean: number;
  p50: number;
  p99: number;
}

export interface RunMetrics {
  tasks: number;
  completed: number;
  succeeded: number;
  failed: number;
  unfinished: number;
  /** Seconds. wait = start of the final attempt - submit (includes failed attempts and requeues). */
  waitS: Summary;
  /** Seconds. turnaround = finish - submit ("latency"). */
  turnaroundS: Summary;
  boundedSlowdown: Summary;
  /** Busy core-seconds / (capacity cores x makespan). */
  utilisation: number;
  /** Completed tasks per simulated second over the makespan. */
  throughputPerS: number;
  makespanS: number;
  withDeadline: number;
  /** Tasks with a deadline that did not succeed by it (late, failed or never finished). */
  deadlineMisses: number;
  deadlineMissRate: number;
  /** Placement decisions that fell back to round-robin (RTS only). */
  decisions: number;
  fallbacks: number;
  fallbackRate: number;
  dispatchPasses: number;
}

/** max((wait + run) / max(run, bound), 1). */
export function boundedSlowdown(waitMs: number, runMs: number, boundMs = SLOWDOWN_BOUND_MS): number {
  return Math.max((waitMs + runMs) / Math.max(runMs, boundMs), 1);
}

export function summarize(values: number[]): Summary {
  if (values.length === 0) return { mean: 0, p50: 0, p99: 0 };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { mean: sum / sorted.length, p50: at(0.5), p99: at(0.99) };
}

export interface RunCounters {
  busyCoreMs: number;
  capacityCores: number;
  decisions: number;
  fallbacks: number;
  passes: number;
}

export function computeMetrics(outcomes: readonly TaskOutcome[], c: RunCounters): RunMetrics {
  const waits: number[] = [];
  const turnarounds: number[] = [];
  const slowdowns: number[] = [];
  let firstSubmit = Infinity;
  let lastFinish = -Infinity;
  let succeeded = 0;
  let failed = 0;
  let withDeadline = 0;
  let misses = 0;
  for (const o of outcomes) {
    firstSubmit = Math.min(firstSubmit, o.submitMs);
    const done = o.finishMs >= 0;
    if (o.deadlineMs !== null) {
      withDeadline++;
      if (!done || !o.succeeded || o.finishMs > o.deadlineMs) misses++;
    }
    if (!done) continue;
    if (o.succeeded) succeeded++;
    else failed++;
    lastFinish = Math.max(lastFinish, o.finishMs);
    const wait = o.startMs - o.submitMs;
    waits.push(wait / 1000);
    turnarounds.push((o.finishMs - o.submitMs) / 1000);
    slowdowns.push(boundedSlowdown(wait, o.runMs));
  }
  const completed = succeeded + failed;
  const makespanMs = completed > 0 ? lastFinish - firstSubmit : 0;
  return {
    tasks: outcomes.length,
    completed,
    succeeded,
    failed,
    unfinished: outcomes.length - completed,
    waitS: summarize(waits),
    turnaroundS: summarize(turnarounds),
    boundedSlowdown: summarize(slowdowns),
    utilisation: makespanMs > 0 && c.capacityCores > 0 ? c.busyCoreMs / (c.capacityCores * makespanMs) : 0,
    throughputPerS: makespanMs > 0 ? completed / (makespanMs / 1000) : 0,
    makespanS: makespanMs / 1000,
    withDeadline,
    deadlineMisses: misses,
    deadlineMissRate: withDeadline > 0 ? misses / withDeadline : 0,
    decisions: c.decisions,
    fallbacks: c.fallbacks,
    fallbackRate: c.decisions > 0 ? c.fallbacks / c.decisions : 0,
    dispatchPasses: c.passes,
  };
}

const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : String(x));

/** A two-column human-readable table of one run. */
export function formatMetrics(m: RunMetrics, title: string): string {
  const rows: [string, string][] = [
    ["tasks (completed / unfinished)", `${m.tasks} (${m.completed} / ${m.unfinished})`],
    ["succeeded / failed", `${m.succeeded} / ${m.failed}`],
    ["wait s (mean / p50 / p99)", `${f(m.waitS.mean)} / ${f(m.waitS.p50)} / ${f(m.waitS.p99)}`],
    ["turnaround s (mean / p50 / p99)", `${f(m.turnaroundS.mean)} / ${f(m.turnaroundS.p50)} / ${f(m.turnaroundS.p99)}`],
    ["bounded slowdown (mean / p50 / p99)", `${f(m.boundedSlowdown.mean)} / ${f(m.boundedSlowdown.p50)} / ${f(m.boundedSlowdown.p99)}`],
    ["utilisation", f(m.utilisation, 3)],
    ["throughput tasks/s", f(m.throughputPerS, 3)],
    ["makespan s", f(m.makespanS, 1)],
    ["deadline misses", `${m.deadlineMisses} / ${m.withDeadline} (${f(100 * m.deadlineMissRate)}%)`],
    ["fallbacks", `${m.fallbacks} / ${m.decisions} (${f(100 * m.fallbackRate)}%)`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return `${title}\n${rows.map(([k, v]) => `  ${k.padEnd(width)}${v}`).join("\n")}\n`;
}
