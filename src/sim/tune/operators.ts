// The GA's variation and selection operators. Every random choice comes from the injected seeded
// Rng (src/core/random.ts), so a run is reproducible from its seed. Operators return raw vectors;
// the GA normalises them (genome.ts) before evaluation.
import type { Rng } from "../../core/random.js";
import type { Genome } from "./genome.js";

/** A standard normal sample (Box-Muller; two uniforms per sample, the second half discarded). */
export function gaussian(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

export interface Scored {
  genome: Genome;
  fitness: number;
}

/**
 * Tournament selection: `size` individuals drawn with replacement, the fittest (lowest fitness)
 * wins; on equal fitness the one drawn first. Larger tournaments = stronger selection pressure.
 */
export function tournament(rng: Rng, population: readonly Scored[], size: number): Scored {
  let best = population[Math.floor(rng() * population.length)];
  for (let i = 1; i < size; i++) {
    const c = population[Math.floor(rng() * population.length)];
    if (c.fitness < best.fitness) best = c;
  }
  return best;
}

/**
 * Blend crossover (BLX-alpha): each child gene is uniform in [lo - alpha*d, hi + alpha*d] where lo/hi
 * are the parents' genes and d = hi - lo, so children can explore a little beyond their parents.
 */
export function blendCrossover(rng: Rng, a: Genome, b: Genome, alpha = 0.3): number[] {
  return a.map((x, i) => {
    const lo = Math.min(x, b[i]);
    const hi = Math.max(x, b[i]);
    const d = hi - lo;
    return lo - alpha * d + rng() * (d + 2 * alpha * d);
  });
}

/** Uniform crossover: each gene from one parent or the other with probability 1/2. */
export function uniformCrossover(rng: Rng, a: Genome, b: Genome): number[] {
  return a.map((x, i) => (rng() < 0.5 ? x : b[i]));
}

/**
 * Gaussian mutation: each gene, with probability `rate`, gets N(0, sigma^2) added, then is clamped
 * to >= 0 (a negative weight is invalid in the weights file). At least one gene is mutated, so a
 * mutated child always differs from its parent. Never returns an all-zero vector: if clamping
 * zeroed everything, the parent is returned unchanged.
 */
export function gaussianMutation(rng: Rng, g: Genome, rate: number, sigma: number): number[] {
  const forced = Math.floor(rng() * g.length);
  const out = g.map((x, i) => (i === forced || rng() < rate ? Math.max(0, x + sigma * gaussian(rng)) : x));
  return out.some((x) => x > 0) ? out : [...g];
}
