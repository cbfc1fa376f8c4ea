// Lazy job-array elements (issue 17: "100,000 indexes submit in well under a second; create child
// rows lazily or in bulk, as Slurm does"). An array is one record (its template spec, its indexes,
// how many of them have a task row); element rows are created in index order, a chunk at a time,
// so that about `ahead` elements exist that have not ended. Slurm does the same in spirit: a pending
// array is one job record until the scheduler splits elements off it.
//
// Pure: the master asks how many to create now and writes them; indexes come from parseArrayRange.

/** Elements created at once (and at submission): one statement, about a millisecond per hundred rows. */
export const ARRAY_CHUNK = 1_000;
/** Elements of one array that exist and have not ended, at most (its parallelism, whatever the fleet). */
export const ARRAY_AHEAD = 4_000;

export interface ArrayProgress {
  /** Indexes in all. */
  total: number;
  /** Element rows that exist (the first `created` indexes, in order). */
  created: number;
  /** Of those, how many have ended. */
  ended: number;
  /** The array was canceled: no more elements are created. */
  canceled: boolean;
}

export interface ArrayPacing {
  chunk: number;
  ahead: number;
}

export const DEFAULT_ARRAY_PACING: ArrayPacing = { chunk: ARRAY_CHUNK, ahead: ARRAY_AHEAD };

/**
 * How many more elements to create now: none while more than `ahead - chunk` are live (so each write
 * is a whole chunk, not one row per ended element), else up to a chunk without passing `ahead`.
 */
export function elementsToCreate(p: ArrayProgress, pacing: ArrayPacing = DEFAULT_ARRAY_PACING): number {
  if (p.canceled || p.created >= p.total) return 0;
  const live = p.created - p.ended;
  const room = Math.max(pacing.ahead, pacing.chunk) - live;
  if (room < pacing.chunk && live > 0) return 0;
  return Math.min(p.total - p.created, pacing.chunk, Math.max(room, 1));
}

/** At submission: the first chunk (at least one element: the request's answer names the first). */
export function elementsAtSubmit(total: number, pacing: ArrayPacing = DEFAULT_ARRAY_PACING): number {
  return Math.max(1, Math.min(total, pacing.chunk));
}
