// The GA tuner end to end (DESIGN §3 "Weights file"; docs/operations.md "Tuning and deploying new
// weights"): evolve the six RTS weights on TRAINING seeds of the hetero workload (fitness:
// objective.ts), then evaluate the winner and the default weights on HELD-OUT seeds the GA never
// saw. Deterministic: the GA's randomness is one mulberry32 stream from `gaSeed`, workloads and
// simulations are seeded by their seed numbers. Pure computation, no I/O: the CLI
// (src/cli/commands/tune.ts) and the report (report.ts) print and write the result.
import { mulberry32 } from "../../core/random.js";
import { DEFAULT_WEIGHTS, type Weights } from "../../core/rts/weights.js";
import { GA_DEFAULTS, runGa, type GaSettings, type GenerationStats } from "./ga.js";
import { genomeFromWeights, weightsFromGenome } from "./genome.js";
import { OBJECTIVE_TEXT, SimObjective, type Evaluation, type WorkloadSettings } from "./objective.js";

export interface TuneOptions {
  workload: WorkloadSettings;
  trainSeeds: number[];
  heldoutSeeds: number[];
  /** Seed of the GA's own random stream (selection, crossover, mutation). */
  gaSeed: number;
  ga?: Partial<GaSettings>;
  /** The weights to beat, always in generation 0 (default: DEFAULT_WEIGHTS). */
  baseline?: Weights;
  onGeneration?: (stats: GenerationStats, simulations: number) => void;
}

export interface GenerationRow {
  generation: number;
  bestFitness: number;
  meanFitness: number;
  best: Weights;
  evaluations: number;
}

export interface TuneResult {
  workload: WorkloadSettings;
  trainSeeds: number[];
  heldoutSeeds: number[];
  gaSeed: number;
  ga: GaSettings;
  objective: string;
  best: Weights;
  baseline: Weights;
  /** Training score of the best (the GA's fitness). */
  fitness: number;
  foundInGeneration: number;
  generations: GenerationRow[];
  train: { tuned: Evaluation; baseline: Evaluation };
  heldout: { tuned: Evaluation; baseline: Evaluation };
  simulations: number;
}

export function overlappingSeeds(a: readonly number[], b: readonly number[]): number[] {
  const set = new Set(a);
  return b.filter((s) => set.has(s));
}

export function tune(options: TuneOptions): TuneResult {
  const overlap = overlappingSeeds(options.trainSeeds, options.heldoutSeeds);
  if (overlap.length > 0) throw new RangeError(`held-out seeds must not be training seeds (both: ${overlap.join(", ")})`);
  if (options.trainSeeds.length === 0 || options.heldoutSeeds.length === 0) throw new RangeError("at least one training and one held-out seed are needed");
  const baseline = options.baseline ?? DEFAULT_WEIGHTS;
  const ga: GaSettings = { ...GA_DEFAULTS, ...options.ga };
  const objective = new SimObjective(options.workload, baseline);
  const baseGenome = genomeFromWeights(baseline);
  const result = runGa({
    rng: mulberry32(options.gaSeed),
    settings: ga,
    seeds: [baseGenome],
    fitness: (g) => objective.evaluate(g, options.trainSeeds).score,
    onGeneration: (stats) => options.onGeneration?.(stats, objective.simulations),
  });
  const evaluate = (seeds: number[]) => ({ tuned: objective.evaluate(result.best, seeds), baseline: objective.evaluate(baseGenome, seeds) });
  return {
    workload: options.workload,
    trainSeeds: [...options.trainSeeds],
    heldoutSeeds: [...options.heldoutSeeds],
    gaSeed: options.gaSeed,
    ga,
    objective: OBJECTIVE_TEXT,
    best: weightsFromGenome(result.best),
    baseline,
    fitness: result.bestFitness,
    foundInGeneration: result.foundInGeneration,
    generations: result.history.map((h) => ({
      generation: h.generation,
      bestFitness: h.bestFitness,
      meanFitness: h.meanFitness,
      best: weightsFromGenome(h.best),
      evaluations: h.evaluations,
    })),
    train: evaluate(options.trainSeeds),
    heldout: evaluate(options.heldoutSeeds),
    simulations: objective.simulations,
  };
}

const round = (x: number, digits = 6): number => Number(x.toFixed(digits));

/**
 * The metadata written beside the weights (JSON text per key, as formatWeightsFile takes it):
 * generation, fitness, train_score, heldout_score, defaults_train_score, defaults_heldout_score,
 * the miss rates behind them, the seeds, the settings and created_at (ISO).
 */
export function tuneMetadata(r: TuneResult, createdAt: Date): Record<string, string> {
  const meta: Record<string, unknown> = {
    generation: r.generations.length - 1,
    found_in_generation: r.foundInGeneration,
    fitness: round(r.fitness),
    train_score: round(r.train.tuned.score),
    heldout_score: round(r.heldout.tuned.score),
    defaults_train_score: round(r.train.baseline.score),
    defaults_heldout_score: round(r.heldout.baseline.score),
    train_miss_rate: round(r.train.tuned.missRate),
    heldout_miss_rate: round(r.heldout.tuned.missRate),
    defaults_heldout_miss_rate: round(r.heldout.baseline.missRate),
    seeds: { train: r.trainSeeds, heldout: r.heldoutSeeds, ga: r.gaSeed },
    workload: { name: "hetero", ...r.workload },
    population: r.ga.populationSize,
    objective: r.objective,
    created_at: createdAt.toISOString(),
  };
  return Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, JSON.stringify(v)]));
}
