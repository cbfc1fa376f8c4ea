// Writes docs/results/rts-vs-rr.md and .svg: the hetero workload over >= 10 seeds, RTS (default
// weights) vs round-robin, through the same engine and core. Run: node --import tsx src/sim/report.ts [SEEDS]
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { simulate, type PlacementName } from "./engine.js";
import type { RunMetrics } from "./metrics.js";
import { HETERO_DEFAULTS, HETERO_KINDS, heteroWorkload } from "./workloads/hetero.js";

interface Row {
  key: string;
  label: string;
  get: (m: RunMetrics) => number;
  digits: number;
  lowerIsBetter: boolean;
}

const ROWS: Row[] = [
  { key: "miss", label: "deadline-miss rate (%)", get: (m) => 100 * m.deadlineMissRate, digits: 2, lowerIsBetter: true },
  { key: "mean", label: "mean latency (turnaround, s)", get: (m) => m.turnaroundS.mean, digits: 1, lowerIsBetter: true },
  { key: "p99", label: "p99 latency (turnaround, s)", get: (m) => m.turnaroundS.p99, digits: 1, lowerIsBetter: true },
  { key: "wait", label: "mean wait (s)", get: (m) => m.waitS.mean, digits: 2, lowerIsBetter: true },
  { key: "bsld", label: "mean bounded slowdown", get: (m) => m.boundedSlowdown.mean, digits: 3, lowerIsBetter: true },
  { key: "util", label: "utilisation (busy core-s / capacity core-s)", get: (m) => 100 * m.utilisation, digits: 1, lowerIsBetter: false },
  { key: "tput", label: "throughput (tasks/s)", get: (m) => m.throughputPerS, digits: 3, lowerIsBetter: false },
  { key: "failed", label: "tasks failed after retries", get: (m) => m.failed, digits: 1, lowerIsBetter: true },
  { key: "fallback", label: "fallback rate (%)", get: (m) => 100 * m.fallbackRate, digits: 2, lowerIsBetter: true },
];

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]): number => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
};

export function runComparison(seeds: number[]): { runs: Record<PlacementName, RunMetrics[]>; wallMs: number; tasks: number } {
  const runs: Record<PlacementName, RunMetrics[]> = { rts: [], round_robin: [] };
  let wallMs = 0;
  let tasks = 0;
  for (const seed of seeds) {
    for (const placement of ["rts", "round_robin"] as const) {
      const r = simulate(heteroWorkload({ seed }), { placement, seed });
      runs[placement].push(r.metrics);
      wallMs += r.wallMs;
      tasks += r.metrics.tasks;
    }
  }
  return { runs, wallMs, tasks };
}

function svg(runs: Record<PlacementName, RunMetrics[]>): string {
  const bars = ROWS.filter((r) => ["miss", "mean", "p99", "util", "tput"].includes(r.key));
  const W = 760, H = 330, top = 40, base = 260, barW = 46, gap = 150;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">RTS (default weights) vs round-robin, hetero workload, ${runs.rts.length} seeds (RR = 100%)</text>`,
    `<line x1="30" y1="${base}" x2="${W - 20}" y2="${base}" stroke="#333"/>`,
  ];
  bars.forEach((row, i) => {
    const rr = mean(runs.round_robin.map(row.get));
    const rts = mean(runs.rts.map(row.get));
    const x0 = 50 + i * gap;
    const scale = (base - top - 20) / Math.max(1, rts / rr, 1);
    for (const [j, v, color, name] of [[0, rr, "#9e9e9e", "RR"], [1, rts, "#1f77b4", "RTS"]] as const) {
      const h = rr > 0 ? (v / rr) * scale : 0;
      const x = x0 + j * (barW + 6);
      parts.push(`<rect x="${x}" y="${(base - h).toFixed(1)}" width="${barW}" height="${h.toFixed(1)}" fill="${color}"><title>${name}: ${v.toFixed(row.digits)}</title></rect>`);
      parts.push(`<text x="${x + barW / 2}" y="${(base - h - 4).toFixed(1)}" text-anchor="middle">${v.toFixed(row.digits)}</text>`);
    }
    const delta = rr !== 0 ? (100 * (rts - rr)) / rr : 0;
    parts.push(`<text x="${x0 + barW + 3}" y="${base + 18}" text-anchor="middle">${row.label.replace(/ \(.*\)$/, "")}</text>`);
    parts.push(`<text x="${x0 + barW + 3}" y="${base + 34}" text-anchor="middle" fill="#555">RTS ${delta >= 0 ? "+" : ""}${delta.toFixed(1)}%</text>`);
  });
  parts.push(`<rect x="${W - 170}" y="${H - 26}" width="12" height="12" fill="#9e9e9e"/><text x="${W - 153}" y="${H - 16}">round-robin</text>`);
  parts.push(`<rect x="${W - 80}" y="${H - 26}" width="12" height="12" fill="#1f77b4"/><text x="${W - 63}" y="${H - 16}">RTS</text>`);
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

export function markdown(seeds: number[], runs: Record<PlacementName, RunMetrics[]>, tasksPerS: number): string {
  const lines: string[] = [];
  const missRr = mean(runs.round_robin.map((m) => m.deadlineMissRate));
  const missRts = mean(runs.rts.map((m) => m.deadlineMissRate));
  const reduction = missRr > 0 ? 1 - missRts / missRr : 0;
  const perSeed = runs.rts.map((m, i) => 1 - m.deadlineMissRate / runs.round_robin[i].deadlineMissRate);
  lines.push("# RTS vs round-robin (simulated)", "");
  lines.push(`Generated by \`node --import tsx src/sim/report.ts\` (src/sim, real \`src/core\` dispatch/placement code). Seeds ${seeds[0]}..${seeds[seeds.length - 1]} (${seeds.length}); mean ± sd over seeds; delta = (RTS - RR) / RR.`, "");
  lines.push("| metric | round-robin | RTS (default weights) | delta |", "| --- | --- | --- | --- |");
  for (const row of ROWS) {
    const a = runs.round_robin.map(row.get);
    const b = runs.rts.map(row.get);
    const d = mean(a) !== 0 ? (100 * (mean(b) - mean(a))) / mean(a) : 0;
    lines.push(`| ${row.label} | ${mean(a).toFixed(row.digits)} ± ${sd(a).toFixed(row.digits)} | ${mean(b).toFixed(row.digits)} ± ${sd(b).toFixed(row.digits)} | ${d >= 0 ? "+" : ""}${d.toFixed(1)}% |`);
  }
  lines.push("", "![chart](rts-vs-rr.svg)", "");
  lines.push(`**Deadline misses: RTS misses ${(100 * reduction).toFixed(1)}% fewer than round-robin** (per seed: ${perSeed.map((x) => `${(100 * x).toFixed(0)}%`).join(", ")}). ` +
    `The issue's target is >= 60% fewer: **${reduction >= 0.6 ? "met" : "not met"}** on this workload.`, "");
  lines.push("## Workload (`hetero`, defaults)", "");
  lines.push(`- ${HETERO_DEFAULTS.tasks} tasks, ${HETERO_DEFAULTS.workers} workers, Poisson arrivals at an offered load of ${HETERO_DEFAULTS.load} of the busier resource (CPU cores or GPUs) at nominal speed.`);
  lines.push(`- Kinds: ${HETERO_KINDS.map((k) => `${k.kind} (${k.family}, ${(100 * k.share).toFixed(0)}%, median ${k.medianS} s)`).join(", ")}. True runtimes log-normal (sigma 0.6) around the kind's median, clamped to 2 s-20 min.`);
  lines.push("- CPU tasks take 1/2/2/4 cores; GPU tasks 4 cores + 1 A100; IO tasks 1 core with io_intensity 0.5-1 and prefer `ssd`.");
  lines.push("- Estimates = true runtime x lognormal noise (sigma 0.25), whole seconds. Deadline = submit + estimate x sla_multiplier 2.0 (the master's derived deadline).");
  lines.push("- Workers: 16 or 32 cores (slots = cores/2), 30% are 32-core boxes with 8 A100s, 40% have an SSD. Per worker a hardware generation g log-uniform in 0.5x-2x runtime, per family jitter 0.8x-1.25x (clamped 0.5-2x); IO work 0.7x on SSD, 1.3x elsewhere, and slowed by 1 + io_pressure x io_intensity (io_pressure = running io intensity / 2).");
  lines.push(`- ${(100 * HETERO_DEFAULTS.flakyShare).toFixed(0)}% flaky workers fail an attempt with p = ${HETERO_DEFAULTS.flakyFailureRate} (others 0.5%); failed attempts retry (max_retries 2).`);
  lines.push("- Telemetry is synthesised at every pass (cpuLoad = allocated/capacity cpu, GPU utilisation 100% for allocated GPUs, io pressure as above). RTS learns runtime ratios, success rates, penalties and warmth from finished attempts exactly like master/learning-observer.ts; it starts cold (no prior knowledge) in every run.");
  lines.push("- Both placements see the same candidate set: planDispatch hands at most 8 feasible workers per task to the strategy (the master's default), so RTS chooses the best of up to 8, RR the next by id.", "");
  lines.push("## Reading the numbers", "");
  lines.push("- Utilisation counts busy core-seconds; RTS runs the same work on faster workers, so it can show *lower* busy time for the same tasks. Throughput is completed tasks over the makespan and is dominated by the arrival rate at this load; the makespan tail (the last long tasks) moves it a little.");
  lines.push("- The remaining misses under RTS come from cold-start (every (kind, worker) pair starts at ratio 1; a slow worker is only avoided once it has been observed), from the 8-candidate cap (sometimes all 8 candidates are slow), from estimate noise (an estimate 25% low leaves less slack than the 2x SLA suggests) and from queueing at bursts.");
  lines.push(`- Simulator speed in this run: ${Math.round(tasksPerS)} tasks/s on average over the ${seeds.length * 2} runs.`);
  return lines.join("\n") + "\n";
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = Number(process.argv[2] ?? 10);
  const seeds = Array.from({ length: n }, (_, i) => i + 1);
  const { runs, wallMs, tasks } = runComparison(seeds);
  const out = new URL("../../docs/results/", import.meta.url).pathname;
  writeFileSync(`${out}rts-vs-rr.md`, markdown(seeds, runs, tasks / (wallMs / 1000)));
  writeFileSync(`${out}rts-vs-rr.svg`, svg(runs));
  process.stdout.write(`wrote ${out}rts-vs-rr.md and .svg\n`);
}
