// Where the protocol's 10 sequences of 1,024 jobs start. Their code draws each start with
// randint(1024, N-1024-1) from an old gym seeding.np_random(1), so the indexes depend only on the
// number of loaded jobs N; the known draws are listed here (0-based into the loaded job list).
export const SEQUENCE_LENGTH = 1024;

/** N = 10,000: both Lublin traces (../shared/traces/README.md). */
export const RLSCHEDULER_STARTS_10K = [1981, 2756, 4299, 8850, 3316, 2714, 5228, 7762, 4022, 7085];
/** N = 28,468: KTH-SP2 (28,476 records less the 8 with run time 0), as issue 16 gives them. */
export const KTH_SP2_JOBS = 28_468;
export const RLSCHEDULER_STARTS_KTH_SP2 = [10173, 25552, 19140, 8850, 11508, 2714, 13420, 12214, 7085, 10446];

/** The protocol's start indexes for a trace of `n` loaded jobs. */
export function protocolStarts(n: number): number[] {
  if (n === 10_000) return RLSCHEDULER_STARTS_10K;
  if (n === KTH_SP2_JOBS) return RLSCHEDULER_STARTS_KTH_SP2;
  return fallbackStarts(n);
}

/** Other trace sizes: their hashed-seed draw is not reproduced; 10 evenly spaced starts instead. */
export function fallbackStarts(n: number): number[] {
  const lo = SEQUENCE_LENGTH;
  const hi = Math.max(lo, n - SEQUENCE_LENGTH - 1);
  return Array.from({ length: 10 }, (_, i) => Math.floor(lo + ((hi - lo) * i) / 9));
}
