// Per-project metrics of a simulation (issue 15): how long each project's tasks waited and their
// bounded slowdown (mean, median, p95), when its first task started, and what it consumed. Pure
// functions over the engine's outcomes.
import { boundedSlowdown, type TaskOutcome } from "./metrics.js";

export interface Spread {
  mean: number;
  p50: number;
  p95: number;
}

export interface ProjectMetrics {
  project: string;
  tasks: number;
  completed: number;
  /** Seconds; wait = start of the final attempt - submit, over completed tasks. */
  waitS: Spread;
  boundedSlowdown: Spread;
  /** Simulated ms of its first submission and of its first start (-1: none started). */
  firstSubmitMs: number;
  firstStartMs: number;
  /** Billing-unit seconds its attempts consumed (undecayed; GPU-seconds when only GPUs are billed). */
  consumedUnitS: number;
}

/** Nearest-rank percentiles (the same rule as metrics.ts's summarize). */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { mean: 0, p50: 0, p95: 0 };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { mean: sum / sorted.length, p50: at(0.5), p95: at(0.95) };
}

/** One row per project, sorted by name. `consumed`: billing-unit seconds per project (engine). */
export function projectMetrics(outcomes: readonly TaskOutcome[], consumed: ReadonlyMap<string, number> = new Map()): ProjectMetrics[] {
  const groups = new Map<string, TaskOutcome[]>();
  for (const o of outcomes) {
    const p = o.project ?? "sim";
    let g = groups.get(p);
    if (g === undefined) groups.set(p, (g = []));
    g.push(o);
  }
  const rows: ProjectMetrics[] = [];
  for (const [project, list] of groups) {
    const waits: number[] = [];
    const slowdowns: number[] = [];
    let firstSubmitMs = Number.POSITIVE_INFINITY;
    let firstStartMs = Number.POSITIVE_INFINITY;
    for (const o of list) {
      firstSubmitMs = Math.min(firstSubmitMs, o.submitMs);
      if (o.startMs >= 0) firstStartMs = Math.min(firstStartMs, o.startMs);
      if (o.finishMs < 0) continue;
      waits.push((o.startMs - o.submitMs) / 1000);
      slowdowns.push(boundedSlowdown(o.startMs - o.submitMs, o.runMs));
    }
    rows.push({
      project,
      tasks: list.length,
      completed: waits.length,
      waitS: spread(waits),
      boundedSlowdown: spread(slowdowns),
      firstSubmitMs,
      firstStartMs: Number.isFinite(firstStartMs) ? firstStartMs : -1,
      consumedUnitS: consumed.get(project) ?? 0,
    });
  }
  return rows.sort((a, b) => (a.project < b.project ? -1 : a.project > b.project ? 1 : 0));
}

const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : String(x));

/** A plain-text table, one line per project (at most `limit`, the busiest first when cut). */
export function formatProjectMetrics(rows: readonly ProjectMetrics[], limit = 20): string {
  const shown = rows.length <= limit ? rows : [...rows].sort((a, b) => b.consumedUnitS - a.consumedUnitS).slice(0, limit);
  const head = ["project", "tasks", "wait s mean", "p50", "p95", "bsld mean", "p50", "p95", "first start s", "usage units*s"];
  const lines = shown.map((r) => [
    r.project,
    String(r.tasks),
    f(r.waitS.mean),
    f(r.waitS.p50),
    f(r.waitS.p95),
    f(r.boundedSlowdown.mean, 2),
    f(r.boundedSlowdown.p50, 2),
    f(r.boundedSlowdown.p95, 2),
    r.firstStartMs < 0 ? "-" : f(r.firstStartMs / 1000),
    f(r.consumedUnitS, 0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]): string => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")}`;
  const more = rows.length > shown.length ? `  (${rows.length - shown.length} more projects not shown)\n` : "";
  return `${[fmt(head), ...lines.map(fmt)].join("\n")}\n${more}`;
}
