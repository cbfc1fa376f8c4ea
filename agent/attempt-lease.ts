// The agent's lease on its running attempts. The master grants it in `registered` (lease_ms) and
// renews it by answering heartbeats. The lease runs until lease_ms after the *sending* time of the
// latest answered heartbeat: the master heard from us no earlier than that, and declares our
// attempts lost no sooner than offline_after_ms (> lease_ms + lease_grace_ms) after it last heard
// from us. So when the lease expires the agent stops its attempts itself, and they are gone before
// the master may run them elsewhere: at most one live copy. Times are this process's clock only.
export class AttemptLease {
  private leaseMs = 0;
  graceMs = 0;
  private expiresAtMs: number | null = null;
  /** Send time of each heartbeat not answered yet. */
  private readonly sentAt = new Map<number, number>();

  /** From `registered`; 0 means the master grants no lease (nothing is ever stopped for it). */
  grant(leaseMs: number, graceMs: number, registerSentAtMs: number): void {
    this.leaseMs = leaseMs;
    this.graceMs = graceMs;
    this.renew(registerSentAtMs);
  }

  heartbeatSent(seq: number, atMs: number): void {
    this.sentAt.set(seq, atMs);
  }

  heartbeatAnswered(seq: number): void {
    const at = this.sentAt.get(seq);
    for (const s of this.sentAt.keys()) if (s <= seq) this.sentAt.delete(s);
    if (at !== undefined) this.renew(at);
  }

  expired(nowMs: number): boolean {
    return this.leaseMs > 0 && this.expiresAtMs !== null && nowMs >= this.expiresAtMs;
  }

  /** When the lease ends on this process's clock; null while no lease runs. */
  get expiresAt(): number | null {
    return this.leaseMs > 0 ? this.expiresAtMs : null;
  }

  /** Milliseconds of silence the lease allows (0 when there is no lease). */
  get durationMs(): number {
    return this.leaseMs;
  }

  private renew(sentAtMs: number): void {
    if (this.leaseMs <= 0) return;
    const until = sentAtMs + this.leaseMs;
    if (this.expiresAtMs === null || until > this.expiresAtMs) this.expiresAtMs = until;
  }
}
