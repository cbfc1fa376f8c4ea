// Reconnect delays: exponential backoff with full jitter (a random delay in [0, min(cap, base*2^n))),
// so a fleet of agents that lost the master at the same moment does not reconnect in lockstep.

export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  /** Injected for deterministic tests; returns [0,1). */
  random?: () => number;
}

export class Backoff {
  private failures = 0;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 200;
    this.capMs = options.capMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  /** Delay before the next try; each call doubles the ceiling up to the cap. */
  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** this.failures);
    if (this.failures < 40) this.failures++; // 2^40 * base is far past any cap
    return Math.floor(this.random() * ceiling);
  }

  /** After a successful registration: the next failure starts from the base again. */
  reset(): void {
    this.failures = 0;
  }
}
