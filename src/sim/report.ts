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

/** Why the numbers moved since the first version of this report (measured then; see the text). */
const WHAT_CHANGED: string[] = [
  "## What changed since the first version of this report",
  "",
  "The first version measured RTS 9.17% vs RR 12.91% (29% fewer misses; per seed 7%..60%). Breaking those misses down by cause (seeds 1-10) showed where RTS lost:",
  "",
  "| cause of a miss | RR | RTS then |",
  "| --- | --- | --- |",
  "| the chosen worker was slow: a faster candidate would have made it | 43% | 18% (15% on learned pairs) |",
  "| every one of the 8 candidates too slow (a faster worker existed) | 6% | 23% |",
  "| I/O contention pushed an IO task past its deadline | 31% | 34% |",
  "| queue wait | 15% | 18% |",
  "| after a failed attempt / failed after retries | 6% / 0% | 7% / 0% |",
  "",
  "and that the GPU-saturated seeds (3, 4, 7) lost most: on seed 4 GPU tasks waited ~2 minutes on average while 6-7 of the 88 GPUs sat free, their hosts' cores taken by small CPU-only tasks. Two changes in `src/core`, so the master gets them too:",
  "",
  "1. **Wider candidate sample for tasks with a deadline** (`DEFAULT_DEADLINE_CANDIDATES` = 32, was the general cap of 8; the widening stops after 64 workers visited, so the cost stays bounded). Alone, with the cap at 8 / 16 / 24 / 32: 29% / 51% / 65% / 72% fewer misses. The placement latency targets still hold (docs/benchmarks.md).",
  "2. **GPU-host reserve in the load factor**: for a task that asks for no GPU, the CPU a GPU host needs to feed its idle GPUs counts as load (`gpuHostReserve`, docs/scheduling.md), so CPU-only work fills CPU-only workers first. With change 1 in place: mean RTS miss rate 3.77% -> 3.58% (seeds 1-10); on seed 4, 10.6% -> 9.6%; there the mean count of free-but-unusable GPUs while GPU tasks wait went from 7.0 (RTS before both changes) to 4.9 (RR: 8.6).",
  "",
  "Tried and not kept: a hierarchical prior for (kind, worker) pairs not seen yet (kind ratio x the worker's speed over its other kinds) instead of ratio 1. It predicted unseen pairs better (mean |log error| 0.25 vs 0.37), but placed worse: 3.69% vs 3.47% over seeds 1-20, 7.2% vs 6.7% on 500 workers (where most pairs are unseen); cold start is not a large cause here (misses on unlearned pairs: 3%). The default weights are the DESIGN's, unchanged: a coordinate search on seeds 101-110 found ~10% fewer misses with other weights, which is the tuner's job, not the defaults'.",
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
  const W = 760,
    H = 330,
    top = 40,
    base = 260,
    barW = 46,
    gap = 150;
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
    for (const [j, v, color, name] of [
      [0, rr, "#9e9e9e", "RR"],
      [1, rts, "#1f77b4", "RTS"],
    ] as const) {
      const h = rr > 0 ? (v / rr) * scale : 0;
      const x = x0 + j * (barW + 6);
      parts.push(
        `<rect x="${x}" y="${(base - h).toFixed(1)}" width="${barW}" height="${h.toFixed(1)}" fill="${color}"><title>${name}: ${v.toFixed(row.digits)}</title></rect>`,
      );
      parts.push(`<text x="${x + barW / 2}" y="${(base - h - 4).toFixed(1)}" text-anchor="middle">${v.toFixed(row.digits)}</text>`);
    }
    const delta = rr !== 0 ? (100 * (rts - rr)) / rr : 0;
    parts.push(`<text x="${x0 + barW + 3}" y="${base + 18}" text-anchor="middle">${row.label.replace(/ \(.*\)$/, "")}</text>`);
    parts.push(`<text x="${x0 + barW + 3}" y="${base + 34}" text-anchor="middle" fill="#555">RTS ${delta >= 0 ? "+" : ""}${delta.toFixed(1)}%</text>`);
  });
  parts.push(`<rect x="${W - 170}" y="${H - 26}" width="12" height="12" fill="#9e9e9e"/><text x="${W - 153}" y="${H - 16}">round-robin</text>`);
  parts.push(`<rect x="${W - 80}" y="${H - 26}" width="12" height="12" fill="#1f77b4"/><text x="${W - 63}" y="${H - 16}">RTS</text>`);
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

export function markdown(seeds: number[], runs: Record<PlacementName, RunMetrics[]>, tasksPerS: number): string {
  const lines: string[] = [];
  const missRr = mean(runs.round_robin.map((m) => m.deadlineMissRate));
  const missRts = mean(runs.rts.map((m) => m.deadlineMissRate));
  const reduction = missRr > 0 ? 1 - missRts / missRr : 0;
  const perSeed = runs.rts.map((m, i) => 1 - m.deadlineMissRate / runs.round_robin[i].deadlineMissRate);
  lines.push("# RTS vs round-robin (simulated)", "");
  lines.push(
    `Generated by \`node --import tsx src/sim/report.ts\` (src/sim, real \`src/core\` dispatch/placement code). Seeds ${seeds[0]}..${seeds[seeds.length - 1]} (${seeds.length}); mean ± sd over seeds; delta = (RTS - RR) / RR.`,
    "",
  );
  lines.push("| metric | round-robin | RTS (default weights) | delta |", "| --- | --- | --- | --- |");
  for (const row of ROWS) {
    const a = runs.round_robin.map(row.get);
    const b = runs.rts.map(row.get);
    const d = mean(a) !== 0 ? (100 * (mean(b) - mean(a))) / mean(a) : 0;
    lines.push(
      `| ${row.label} | ${mean(a).toFixed(row.digits)} ± ${sd(a).toFixed(row.digits)} | ${mean(b).toFixed(row.digits)} ± ${sd(b).toFixed(row.digits)} | ${d >= 0 ? "+" : ""}${d.toFixed(1)}% |`,
    );
  }
  lines.push("", "![chart](rts-vs-rr.svg)", "");
  lines.push(
    `**Deadline misses: RTS misses ${(100 * reduction).toFixed(1)}% fewer than round-robin** (per seed: ${perSeed.map((x) => `${(100 * x).toFixed(0)}%`).join(", ")}). ` +
      `The target is >= 60% fewer: **${reduction >= 0.6 ? "met" : "not met"}** on this workload.`,
    "",
  );
  lines.push("## Workload (`hetero`, defaults)", "");
  lines.push(
    `- ${HETERO_DEFAULTS.tasks} tasks, ${HETERO_DEFAULTS.workers} workers, Poisson arrivals at an offered load of ${HETERO_DEFAULTS.load} of the busier resource (CPU cores or GPUs) at nominal speed.`,
  );
  lines.push(
    `- Kinds: ${HETERO_KINDS.map((k) => `${k.kind} (${k.family}, ${(100 * k.share).toFixed(0)}%, median ${k.medianS} s)`).join(", ")}. True runtimes log-normal (sigma 0.6) around the kind's median, clamped to 2 s-20 min.`,
  );
  lines.push("- CPU tasks take 1/2/2/4 cores; GPU tasks 4 cores + 1 A100; IO tasks 1 core with io_intensity 0.5-1 and prefer `ssd`.");
  lines.push(
    "- Estimates = true runtime x lognormal noise (sigma 0.25), whole seconds. Deadline = submit + estimate x sla_multiplier 2.0 (the master's derived deadline).",
  );
  lines.push(
    "- Workers: 16 or 32 cores (slots = cores/2), 30% are 32-core boxes with 8 A100s, 40% have an SSD. Per worker a hardware generation g log-uniform in 0.5x-2x runtime, per family jitter 0.8x-1.25x (clamped 0.5-2x); IO work 0.7x on SSD, 1.3x elsewhere, and slowed by 1 + io_pressure x io_intensity (io_pressure = running io intensity / 2).",
  );
  lines.push(
    `- ${(100 * HETERO_DEFAULTS.flakyShare).toFixed(0)}% flaky workers fail an attempt with p = ${HETERO_DEFAULTS.flakyFailureRate} (others 0.5%); failed attempts retry (max_retries 2).`,
  );
  lines.push(
    "- Telemetry is synthesised at every pass (cpuLoad = allocated/capacity cpu, GPU utilisation 100% for allocated GPUs, io pressure as above). RTS learns runtime ratios, success rates, penalties and warmth from finished attempts exactly like master/learning-observer.ts; it starts cold (no prior knowledge) in every run.",
  );
  lines.push(
    "- Both placements see the same candidates: planDispatch hands the strategy up to 32 feasible workers for a task with a deadline (every task here has one; `DEFAULT_DEADLINE_CANDIDATES`, the master's default too) and 8 for one without, taken from a cursor that moves round the fleet. RTS picks the best-scoring candidate, RR the next worker id after the one it chose last.",
    "",
  );
  lines.push("## Reading the numbers", "");
  lines.push(
    "- Utilisation counts busy core-seconds; RTS runs the same work on faster workers, so it can show *lower* busy time for the same tasks. Throughput is completed tasks over the makespan and is dominated by the arrival rate at this load; the makespan tail (the last long tasks) moves it a little.",
  );
  lines.push(
    "- Where the remaining RTS misses come from (a trace of every attempt, seeds 1-10, when this report was last revised): a slower candidate chosen over a faster one that would have made it, the pair already learned, 34% (the load factor outweighing the deadline factor: a weights question, for `taskgrid tune`); I/O contention slowing an IO task past its deadline 27%; every candidate too slow 12%; a failed first attempt 11%; queue wait 8%; a slower candidate chosen before its pair was learned 7%. Missed tasks mostly had low estimates (in the largest category 26% low on average), so their real slack was well under the 2x the SLA suggests.",
  );
  lines.push(
    "- Other seeds, same code (measured when this report was last revised): seeds 11-20, 73.4% fewer misses (RR 12.61% -> RTS 3.36%); seeds 101-110, 70.9% (13.51% -> 3.94%); per seed 60%-87%.",
  );
  lines.push(
    "- Tasks failed after retries: 1.1 per run of 20,000 under RTS vs 0.5 under RR. Fast workers attract work even when flaky, and the success and penalty weights are small (0.05 each).",
  );
  lines.push(`- Simulator speed in this run: ${Math.round(tasksPerS)} tasks/s on average over the ${seeds.length * 2} runs.`);
  lines.push("", ...WHAT_CHANGED);
  return `${lines.join("\n")}\n`;
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
