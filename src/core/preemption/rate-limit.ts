// Cluster-wide cap on preemptions (issue 16): each one throws away work, and a burst of them (a
// flood of LIVE submissions, a policy bug) must not empty the cluster of batch work at once. A
// token bucket: `limit` preemptions per `windowMs` in the long run, at most `burst` back to back.
// Note: after an idle spell a full burst plus the refill can pass within one window (up to
// burst + limit); set burst to 1 for an even spacing.
//
// Time is injected (`nowMs`), so the master and the simulator share it and tests never sleep. The
// count is kept in integer units (one token = windowMs units, refilled at `limit` units per ms), so
// whole-millisecond times refill exactly, with no float drift at the boundaries.

export interface RateLimitOptions {
  /** Preemptions allowed per window in the long run; 0 allows none. */
  limit: number;
  /** Window length (default one minute). */
  windowMs?: number;
  /** Tokens the bucket holds, the largest burst (default `limit`, at least 1). */
  burst?: number;
}

export const DEFAULT_RATE_WINDOW_MS = 60_000;

export class PreemptionRateLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number;
  private units: number;
  private lastMs: number | null = null;

  constructor(options: RateLimitOptions) {
    const windowMs = options.windowMs ?? DEFAULT_RATE_WINDOW_MS;
    if (!(options.limit >= 0) || !Number.isFinite(options.limit))
      throw new RangeError(`preemption rate limit must be a finite number >= 0, got ${options.limit}`);
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`preemption rate window must be a finite number of ms > 0, got ${windowMs}`);
    const burst = options.burst ?? Math.max(1, Math.ceil(options.limit));
    if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError(`preemption burst must be a finite number >= 1, got ${options.burst}`);
    this.limit = options.limit;
    this.windowMs = windowMs;
    this.burst = Math.floor(burst);
    // Starts full: the first preemptions after a (re)start are not held back by a bucket nobody used.
    this.units = this.limit > 0 ? this.burst * windowMs : 0;
  }

  /** Takes one token if there is one: true means the preemption may go ahead now. */
  allow(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.units < this.windowMs) return false;
    this.units -= this.windowMs;
    return true;
  }

  /** Whole preemptions allowed at `nowMs` without taking any (for metrics and "why not" messages). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return Math.floor(this.units / this.windowMs);
  }

  private refill(nowMs: number): void {
    // A clock that steps back (a master failover onto a host behind) refills nothing, and the
    // bucket goes on from the later time it had seen: it never hands out tokens twice.
    if (this.lastMs !== null && nowMs > this.lastMs) this.units = Math.min(this.burst * this.windowMs, this.units + (nowMs - this.lastMs) * this.limit);
    if (this.lastMs === null || nowMs > this.lastMs) this.lastMs = nowMs;
  }
}
