// The GA's fitness: simulator runs (src/sim/engine.ts, the real scheduling core) of the seeded
// hetero workload under RTS with the candidate weights. Lower is better:
//
//   score(w, S) = mean over seeds s in S of  miss_s(w)  +  TIE_BREAK x p99_s(w) / p99_s(reference)
//
// miss_s = deadline-miss rate of seed s (0..1), p99_s = p99 turnaround (s) of seed s, reference =
// the default weights on the same seed, TIE_BREAK = 0.01. The deadline-miss rate is the objective;
// the p99 term only orders weight sets whose miss rates are (nearly) equal: a 10% shorter p99 is
// worth 0.1 percentage point of misses. The reference weights score exactly mean(miss) + 0.01.
//
// Workloads are generated once per seed and reused (simulate does not modify them); results are
// cached by genome key, so the same weights are never simulated twice on one seed.
import { simulate } from "../engine.js";
import type { Workload } from "../types.js";
import { heteroWorkload } from "../workloads/hetero.js";
import { genomeFromWeights, genomeKey, weightsFromGenome, type Genome } from "./genome.js";
import type { Weights } from "../../core/rts/weights.js";

export const TIE_BREAK = 0.01;
export const OBJECTIVE_TEXT = `mean over seeds of miss_rate + ${TIE_BREAK} x p99_turnaround / p99_turnaround(defaults, same seed)`;

export interface WorkloadSettings {
  tasks: number;
  workers: number;
  /** Offered load of the hetero workload (default HETERO_DEFAULTS.load). */
  load?: number;
}

export interface SeedRun {
  seed: number;
  missRate: number;
  p99TurnaroundS: number;
  meanTurnaroundS: number;
}

export interface Evaluation {
  weights: Weights;
  seeds: number[];
  runs: SeedRun[];
  /** Means over the seeds. */
  missRate: number;
  p99TurnaroundS: number;
  meanTurnaroundS: number;
  score: number;
}

const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

export class SimObjective {
  private readonly workloads = new Map<number, Workload>();
  private readonly runCache = new Map<string, SeedRun>();
  private readonly reference: Genome;
  /** Simulator runs actually executed (cache misses). */
  simulations = 0;

  constructor(
    private readonly settings: WorkloadSettings,
    reference: Weights,
  ) {
    this.reference = genomeFromWeights(reference);
  }

  private workload(seed: number): Workload {
    let w = this.workloads.get(seed);
    if (w === undefined) {
      w = heteroWorkload({
        seed,
        tasks: this.settings.tasks,
        workers: this.settings.workers,
        ...(this.settings.load !== undefined ? { load: this.settings.load } : {}),
      });
      this.workloads.set(seed, w);
    }
    return w;
  }

  /** One simulator run of `g` on `seed` (cached). */
  run(g: Genome, seed: number): SeedRun {
    const key = `${seed}:${genomeKey(g)}`;
    let r = this.runCache.get(key);
    if (r === undefined) {
      const m = simulate(this.workload(seed), { placement: "rts", seed, weights: weightsFromGenome(g) }).metrics;
      r = { seed, missRate: m.deadlineMissRate, p99TurnaroundS: m.turnaroundS.p99, meanTurnaroundS: m.turnaroundS.mean };
      this.runCache.set(key, r);
      this.simulations++;
    }
    return r;
  }

  /** The score (see the file comment) and its parts for `g` over `seeds`. */
  evaluate(g: Genome, seeds: readonly number[]): Evaluation {
    const runs = seeds.map((s) => this.run(g, s));
    const ratios = runs.map((r, i) => {
      const ref = this.run(this.reference, seeds[i]).p99TurnaroundS;
      return ref > 0 ? r.p99TurnaroundS / ref : 1;
    });
    const missRate = mean(runs.map((r) => r.missRate));
    return {
      weights: weightsFromGenome(g),
      seeds: [...seeds],
      runs,
      missRate,
      p99TurnaroundS: mean(runs.map((r) => r.p99TurnaroundS)),
      meanTurnaroundS: mean(runs.map((r) => r.meanTurnaroundS)),
      score: missRate + TIE_BREAK * mean(ratios),
    };
  }
}
