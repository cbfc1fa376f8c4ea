// The six RTS weights (DESIGN §3) as the master and simulator use them. The on-disk format
// (config/ga_output.json) uses the keys w_deadline ... w_penalty; parsing and validation of that
// file live in weights-file.ts.

export interface Weights {
  deadline: number;
  affinity: number;
  load: number;
  io: number;
  success: number;
  penalty: number;
}

/** A loaded, validated weight set. `version` is a content hash ("defaults" for the built-ins). */
export interface WeightSet {
  weights: Weights;
  version: string;
  loadedAtMs: number;
  /** Extra keys of the file (generation, fitness, created_at, ...), as JSON text per key. */
  metadata: Record<string, string>;
}

/** The seed defaults, used when no weights file exists at start. */
export const DEFAULT_WEIGHTS: Weights = {
  deadline: 0.35,
  affinity: 0.2,
  load: 0.25,
  io: 0.1,
  success: 0.05,
  penalty: 0.05,
};
