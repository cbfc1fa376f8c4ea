// Brute-force brake: failed authentications are charged to the peer's address (a token bucket per
// host). A peer that used up its bucket gets no verification at all (no database read, no scrypt)
// until it refills; a token already verified on this master still works from it, so a valid client
// behind the same address as an attacker keeps working.
export interface FailureLimiterOptions {
  /** Failures a peer may make at once. */
  burst: number;
  /** Failures forgiven per second. */
  refillPerSecond: number;
  now: () => number;
}

export const DEFAULT_FAILURE_LIMIT = { burst: 20, refillPerSecond: 1 };

/** Buckets kept at most; beyond it, full (idle) buckets are dropped first. */
const MAX_PEERS = 10_000;

export class FailureLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(private readonly options: FailureLimiterOptions) {}

  private level(host: string): { tokens: number; atMs: number } {
    const now = this.options.now();
    const bucket = this.buckets.get(host) ?? { tokens: this.options.burst, atMs: now };
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + ((now - bucket.atMs) / 1000) * this.options.refillPerSecond);
    bucket.atMs = now;
    return bucket;
  }

  /** Whether the peer may try to authenticate now. */
  allowed(peer: string): boolean {
    return this.level(hostOf(peer)).tokens >= 1;
  }

  /** Seconds until the peer may try again (0 when it may now). */
  retryAfterSeconds(peer: string): number {
    const { tokens } = this.level(hostOf(peer));
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.options.refillPerSecond);
  }

  recordFailure(peer: string): void {
    const host = hostOf(peer);
    const bucket = this.level(host);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    this.buckets.set(host, bucket);
    if (this.buckets.size > MAX_PEERS) this.prune();
  }

  private prune(): void {
    for (const host of [...this.buckets.keys()]) {
      if (this.level(host).tokens >= this.options.burst) this.buckets.delete(host);
    }
    // Still too many peers failing at once: forget the oldest (a Map iterates in insertion order).
    for (const host of this.buckets.keys()) {
      if (this.buckets.size <= MAX_PEERS / 2) break;
      this.buckets.delete(host);
    }
  }
}

/** "ipv4:10.0.0.1:5000", "10.0.0.1:5000", "[::1]:5000" -> the host part. */
export function hostOf(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const colon = bare.lastIndexOf(":");
  return (colon > 0 ? bare.slice(0, colon) : bare).replace(/^\[(.*)\]$/, "$1");
}
