// A GA individual: the six RTS weights as a vector in the weights file's canonical key order
// (w_deadline, w_affinity, w_load, w_io, w_success, w_penalty).
//
// Why normalise: RTS picks the highest score, and multiplying every weight by the same c > 0 never
// changes which candidate wins, so only the direction of the vector matters. Keeping every genome
// on the simplex (each gene >= 0, sum 1) removes that redundant dimension from the search, makes
// equal policies share one cache key, and keeps the written files comparable with the defaults
// (which sum to 1). Genes are rounded to 4 decimals for the same reasons (stable keys, tidy files).
import { WEIGHT_FILE_KEYS } from "../../core/rts/weights-file.js";
import type { Weights } from "../../core/rts/weights.js";

export type Genome = readonly number[];

export const GENE_COUNT = WEIGHT_FILE_KEYS.length;
const DECIMALS = 1e4;

export function genomeFromWeights(w: Weights): Genome {
  return WEIGHT_FILE_KEYS.map(([, field]) => w[field]);
}

export function weightsFromGenome(g: Genome): Weights {
  const w = {} as Weights;
  WEIGHT_FILE_KEYS.forEach(([, field], i) => (w[field] = g[i]));
  return w;
}

/**
 * Clamps every gene to >= 0 (NaN counts as 0), rescales to sum 1 and rounds to 4 decimals. An
 * all-zero (or all-negative) vector is not a valid weight set; it becomes `fallback` (normalised)
 * instead, so the result is always a file the master accepts.
 */
export function normaliseGenome(g: Genome, fallback?: Genome): Genome {
  const clamped = g.map((x) => (x > 0 && Number.isFinite(x) ? x : 0));
  const sum = clamped.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) {
    if (fallback !== undefined) return normaliseGenome(fallback);
    return clamped.map(() => Math.round(DECIMALS / GENE_COUNT) / DECIMALS);
  }
  const rounded = clamped.map((x) => Math.round((x / sum) * DECIMALS) / DECIMALS);
  // Rounding can only zero genes below 0.00005; the largest gene is >= 1/6, so never all zero.
  return rounded;
}

/** The cache key of a genome (full precision, so a seed that is not rounded keeps its own key). */
export function genomeKey(g: Genome): string {
  return g.map(String).join(",");
}
