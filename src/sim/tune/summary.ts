// Human-readable text of a tuning run: one progress line per generation (stderr) and the summary
// table (train and held-out, tuned vs default weights). Pure string building.
import { WEIGHT_FILE_KEYS } from "../../core/rts/weights-file.js";
import type { Weights } from "../../core/rts/weights.js";
import type { GenerationStats } from "./ga.js";
import type { Evaluation } from "./objective.js";
import type { TuneResult } from "./tune.js";

/** "1..8" for a contiguous run of seeds, else "1, 3, 5". */
export function describeSeeds(seeds: readonly number[]): string {
  const contiguous = seeds.length > 2 && seeds.every((s, i) => i === 0 || s === seeds[i - 1] + 1);
  return contiguous ? `${seeds[0]}..${seeds[seeds.length - 1]}` : seeds.join(", ");
}

export function progressLine(stats: GenerationStats, generations: number, simulations: number, elapsedS: number): string {
  return (
    `generation ${String(stats.generation).padStart(String(generations).length)}/${generations}` +
    `  best ${stats.bestFitness.toFixed(5)}  mean ${stats.meanFitness.toFixed(5)}` +
    `  evaluated ${stats.evaluations} (cached ${stats.cacheHits})  simulations ${simulations}  ${elapsedS.toFixed(1)} s\n`
  );
}

export function weightsLine(w: Weights): string {
  return WEIGHT_FILE_KEYS.map(([key, field]) => `${key} ${w[field].toFixed(4)}`).join("  ");
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const delta = (tuned: number, base: number): string => {
  if (base === 0) return tuned === 0 ? "0.0%" : "n/a";
  const d = (100 * (tuned - base)) / base;
  return `${d >= 0 ? "+" : ""}${d.toFixed(1)}%`;
};

function block(title: string, tuned: Evaluation, base: Evaluation): string[] {
  const rows: [string, string, string, string][] = [
    ["deadline-miss rate", pct(tuned.missRate), pct(base.missRate), delta(tuned.missRate, base.missRate)],
    ["p99 turnaround s", tuned.p99TurnaroundS.toFixed(1), base.p99TurnaroundS.toFixed(1), delta(tuned.p99TurnaroundS, base.p99TurnaroundS)],
    ["mean turnaround s", tuned.meanTurnaroundS.toFixed(1), base.meanTurnaroundS.toFixed(1), delta(tuned.meanTurnaroundS, base.meanTurnaroundS)],
    ["score (lower is better)", tuned.score.toFixed(5), base.score.toFixed(5), delta(tuned.score, base.score)],
  ];
  return [
    `${title} (seeds ${describeSeeds(tuned.seeds)})`,
    ...rows.map(([k, a, b, d]) => `  ${k.padEnd(24)}${a.padStart(10)}  ${b.padStart(10)}  ${d.padStart(8)}`),
  ];
}

/** True when the tuned weights miss fewer deadlines than the baseline on the held-out seeds. */
export function beatsBaselineHeldout(r: TuneResult): boolean {
  return r.heldout.tuned.missRate < r.heldout.baseline.missRate;
}

export function formatTuneSummary(r: TuneResult): string {
  const lines = [
    `GA: population ${r.ga.populationSize}, ${r.ga.generations} generations, seed ${r.gaSeed}; ` +
      `hetero workload ${r.workload.tasks} tasks on ${r.workload.workers} workers; ${r.simulations} simulations`,
    `objective: ${r.objective}`,
    "",
    `${"".padEnd(26)}${"tuned".padStart(10)}  ${"defaults".padStart(10)}  ${"delta".padStart(8)}`,
    ...block("train", r.train.tuned, r.train.baseline),
    ...block("held-out", r.heldout.tuned, r.heldout.baseline),
    "",
    `tuned     ${weightsLine(r.best)}   (best since generation ${r.foundInGeneration})`,
    `defaults  ${weightsLine(r.baseline)}`,
    `held-out: tuned weights ${beatsBaselineHeldout(r) ? "miss FEWER" : "do NOT miss fewer"} deadlines than the defaults`,
  ];
  return `${lines.join("\n")}\n`;
}
