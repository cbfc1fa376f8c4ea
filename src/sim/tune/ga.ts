// A small generational genetic algorithm over weight genomes (genome.ts), minimising a fitness.
//
//   generation 0   the seed individuals (e.g. the current default weights) as they are, then
//                  random ones: half uniform on the simplex, half heavy mutations of a seed
//   generation k   the `elitism` best of generation k-1 unchanged, then children until the
//                  population is full: two tournament winners -> crossover (blend or uniform,
//                  with probability crossoverRate, else a copy of the first) -> gaussian mutation
//                  -> normalise; a child identical to one already in the population is mutated again
//
// Fitness must be deterministic; it is cached by genome key, so elites and repeated children cost
// nothing. With elitism >= 1 the best fitness never gets worse from one generation to the next, and
// since the seeds are in generation 0 the result is never worse than any seed on the fitness.
import type { Rng } from "../../core/random.js";
import { genomeKey, normaliseGenome, type Genome } from "./genome.js";
import { blendCrossover, gaussianMutation, tournament, uniformCrossover, type Scored } from "./operators.js";

export interface GaSettings {
  populationSize: number;
  generations: number;
  /** Best individuals copied unchanged into the next generation. */
  elitism: number;
  tournamentSize: number;
  crossoverRate: number;
  /** Per-gene mutation probability (one gene is always mutated). */
  mutationRate: number;
  /** Standard deviation of a gene's mutation, on the normalised scale (genes sum to 1). */
  mutationSigma: number;
}

export const GA_DEFAULTS: GaSettings = {
  populationSize: 16,
  generations: 10,
  elitism: 2,
  tournamentSize: 3,
  crossoverRate: 0.9,
  mutationRate: 0.3,
  mutationSigma: 0.05,
};

export interface GenerationStats {
  generation: number;
  best: Genome;
  bestFitness: number;
  meanFitness: number;
  /** Fitness evaluations this generation actually ran (cache misses). */
  evaluations: number;
  cacheHits: number;
}

export interface GaResult {
  best: Genome;
  bestFitness: number;
  /** The generation in which the final best was first seen. */
  foundInGeneration: number;
  history: GenerationStats[];
  evaluations: number;
  /** The final generation, best first. */
  population: Scored[];
}

export interface GaRun {
  rng: Rng;
  settings: GaSettings;
  /** Put in generation 0 exactly as given (valid weights), e.g. the current default weights. */
  seeds: readonly Genome[];
  /** Lower is better; must be deterministic for a genome. */
  fitness: (g: Genome) => number;
  onGeneration?: (stats: GenerationStats) => void;
}

export function validateGaSettings(s: GaSettings): string | null {
  if (!Number.isInteger(s.populationSize) || s.populationSize < 2) return "population must be a whole number >= 2";
  if (!Number.isInteger(s.generations) || s.generations < 0) return "generations must be a whole number >= 0";
  if (!Number.isInteger(s.elitism) || s.elitism < 0 || s.elitism >= s.populationSize) return "elitism must be in 0..population-1";
  if (!Number.isInteger(s.tournamentSize) || s.tournamentSize < 1) return "tournament size must be >= 1";
  for (const [name, v] of [
    ["crossoverRate", s.crossoverRate],
    ["mutationRate", s.mutationRate],
  ] as const) {
    if (!(v >= 0 && v <= 1)) return `${name} must be in [0, 1]`;
  }
  if (!(s.mutationSigma > 0 && Number.isFinite(s.mutationSigma))) return "mutationSigma must be > 0";
  return null;
}

/** Best first; equal fitness keeps the earlier index (Array.prototype.sort is stable). */
const byFitness = (a: Scored, b: Scored): number => a.fitness - b.fitness;

export function runGa(run: GaRun): GaResult {
  const { rng, settings: s, fitness } = run;
  const problem = validateGaSettings(s);
  if (problem !== null) throw new RangeError(problem);
  const cache = new Map<string, number>();
  let evaluations = 0;
  const history: GenerationStats[] = [];
  const fallback = run.seeds[0];

  const evaluate = (genomes: Genome[], generation: number): Scored[] => {
    let evals = 0;
    let hits = 0;
    const scored = genomes.map((genome) => {
      const key = genomeKey(genome);
      let f = cache.get(key);
      if (f === undefined) {
        f = fitness(genome);
        if (!Number.isFinite(f)) throw new RangeError(`fitness of ${key} is ${f}`);
        cache.set(key, f);
        evals++;
      } else hits++;
      return { genome, fitness: f };
    });
    scored.sort(byFitness);
    evaluations += evals;
    const stats: GenerationStats = {
      generation,
      best: scored[0].genome,
      bestFitness: scored[0].fitness,
      meanFitness: scored.reduce((a, x) => a + x.fitness, 0) / scored.length,
      evaluations: evals,
      cacheHits: hits,
    };
    history.push(stats);
    run.onGeneration?.(stats);
    return scored;
  };

  const unique = (pop: Genome[], child: Genome, parent: Genome): Genome => {
    const keys = new Set(pop.map(genomeKey));
    let c = child;
    for (let tries = 0; tries < 8 && keys.has(genomeKey(c)); tries++) c = normaliseGenome(gaussianMutation(rng, c, s.mutationRate, s.mutationSigma), parent);
    return c;
  };

  // Generation 0: the seeds, then random individuals.
  const initial: Genome[] = [];
  // Seeds go in unnormalised: the defaults individual must be exactly the reference it is compared with.
  for (const seed of run.seeds) if (initial.length < s.populationSize) initial.push([...seed]);
  while (initial.length < s.populationSize) {
    const base = run.seeds.length > 0 && initial.length % 2 === 0 ? run.seeds[Math.floor(rng() * run.seeds.length)] : null;
    const raw = base !== null ? gaussianMutation(rng, base, 1, 3 * s.mutationSigma) : Array.from({ length: 6 }, () => -Math.log(1 - rng()));
    initial.push(unique(initial, normaliseGenome(raw, fallback), fallback ?? raw));
  }
  let population = evaluate(initial, 0);

  for (let generation = 1; generation <= s.generations; generation++) {
    const next: Genome[] = population.slice(0, s.elitism).map((x) => x.genome);
    while (next.length < s.populationSize) {
      const a = tournament(rng, population, s.tournamentSize).genome;
      const b = tournament(rng, population, s.tournamentSize).genome;
      let raw: number[] = [...a];
      if (rng() < s.crossoverRate) raw = rng() < 0.5 ? blendCrossover(rng, a, b) : uniformCrossover(rng, a, b);
      const child = normaliseGenome(gaussianMutation(rng, raw, s.mutationRate, s.mutationSigma), a);
      next.push(unique(next, child, a));
    }
    population = evaluate(next, generation);
  }

  const best = population[0];
  const foundInGeneration = history.find((h) => genomeKey(h.best) === genomeKey(best.genome))?.generation ?? s.generations;
  return { best: best.genome, bestFitness: best.fitness, foundInGeneration, history, evaluations, population };
}
