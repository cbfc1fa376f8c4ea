// Leader election among the masters of one database (DESIGN §9).
//
// A master is a STANDBY until its election session takes the advisory lock; then it claims the
// next epoch in the `leader` row and takes office (onElected: the master rebuilds its state from
// the database and fences every write by that epoch). As LEADER it renews the row's lease every
// `renewEveryMs` on the same session. It steps down (onDeposed) when
// - the lock is held by another session or the row carries a later epoch (a successor claimed it),
// - a write transaction found a later epoch (deposed(), called by the store's fence),
// - it could not renew for `leaseMs + outageHoldMs` (it cannot tell a database outage from being
//   cut off while a standby takes over; see `outageHoldMs` in master-settings.ts).
// A standby polls every `pollEveryMs`: when the lock is free it takes it; when the leader has not
// renewed for its lease (by the database's clock) it ends that leader's database sessions, which
// frees the lock, so a stopped or cut-off leader is replaced within about a lease. Fencing, not
// timing, keeps the data safe: whatever a deposed leader still tries to write is rolled back.
//
// Every step runs on one chain, so a step-down requested by the store never interleaves with a
// renewal or a claim.
import { isConnectionError } from "../../src/store/connection-errors.js";
import type { LeaderLock } from "../../src/store/leader-lock.js";
import type { LeaderRow } from "../../src/store/leader-sql.js";
import type { Logger } from "../logger.js";

export type LeadershipView =
  | { role: "leader"; epoch: number; sinceMs: number; address: string; holder: string }
  | { role: "standby"; leader: LeaderRow | null };

export interface ElectorOptions {
  lock: LeaderLock;
  /** This master process (names its database sessions, see applicationNameOf). */
  instanceId: string;
  /** Where clients and agents reach this master, written in the row for standbys' redirects. */
  address: string;
  leaseMs: number;
  outageHoldMs: number;
  renewEveryMs: number;
  pollEveryMs: number;
  log: Logger;
  /** Monotonic milliseconds (the lease is measured on it, never on the wall clock). */
  monotonicNow(): number;
  /** Take office in `epoch`; `previous` is the row as it was before the claim. A throw gives the lead up again. */
  onElected(epoch: number, previous: LeaderRow): Promise<void>;
  /** Leave office (idempotent); the master stops placing work and closes its agents' streams. */
  onDeposed(reason: string): Promise<void>;
}

export class LeaderElector {
  private leading: { epoch: number; sinceMs: number; lastRenewedAt: number } | null = null;
  private known: LeaderRow | null = null;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** While the database cannot be reached: log that once, not every poll. */
  private unreachableSince: number | null = null;
  /** The last failure that was not an outage (e.g. no permission to end a leader's sessions), logged once. */
  private lastFailure = "";
  termsWon = 0;
  termsLost = 0;
  /** Terms won after another master process led (taskgrid_failovers_total). */
  failovers = 0;

  constructor(private readonly o: ElectorOptions) {}

  /** Runs the first campaign step now (a lone master leads before start() returns). */
  async start(): Promise<void> {
    await this.enqueue(() => this.step());
  }

  view(): LeadershipView {
    if (this.leading) return { role: "leader", epoch: this.leading.epoch, sinceMs: this.leading.sinceMs, address: this.o.address, holder: this.o.instanceId };
    return { role: "standby", leader: this.known };
  }

  /** The leader's address for a redirect, "" when none is known (or this master leads). */
  leaderAddress(): string {
    if (this.leading) return this.o.address;
    const known = this.known;
    return known && known.holder !== "" && known.holder !== this.o.instanceId && known.renewedAtMs > 0 ? known.address : "";
  }

  /** The store saw a later epoch: step down now (not at the next renewal). */
  deposed(reason: string): void {
    this.enqueue(() => this.stepDown(reason)).catch((err) => this.o.log.error("step-down failed", { error: String(err) }));
  }

  /** A clean stop: steps down, ends the lease at once so a standby takes over without waiting, closes the session. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.enqueue(async () => {
      const term = this.leading;
      if (term) {
        await this.leave("master stopping");
        await this.o.lock.resign(term.epoch, this.o.instanceId).catch(() => undefined);
      }
      await this.o.lock.reset();
    });
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.chain.then(step);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.enqueue(() => this.step()).catch((err) => this.o.log.error("election step failed", { error: String(err) }));
    }, delayMs);
    this.timer.unref();
  }

  private async step(): Promise<void> {
    if (this.stopped) return;
    if (this.leading) await this.renew();
    else await this.campaign();
    this.schedule(this.leading ? this.o.renewEveryMs : this.o.pollEveryMs);
  }

  private async campaign(): Promise<void> {
    const { lock, log } = this.o;
    try {
      if (await lock.tryAcquire()) {
        const previous = await lock.read();
        const claim = await lock.claim(this.o.instanceId, this.o.address, this.o.leaseMs);
        this.reachable();
        this.leading = { epoch: claim.epoch, sinceMs: claim.acquiredAtMs, lastRenewedAt: this.o.monotonicNow() };
        this.termsWon++;
        // Another master process led before (a restart of this one counts: it has a new instance id).
        if (previous.holder !== "" && previous.holder !== this.o.instanceId) this.failovers++;
        log.info("elected leader", { epoch: claim.epoch, address: this.o.address, previous: previous.holder || null });
        try {
          await this.o.onElected(claim.epoch, previous);
        } catch (err) {
          log.error("could not take office; giving the lead up", { epoch: claim.epoch, error: String(err) });
          await this.stepDown(`could not take office: ${String(err)}`);
        }
        return;
      }
      const row = await lock.read();
      this.reachable();
      if (row.holder !== "" && row.holder !== this.o.instanceId && (this.known?.holder !== row.holder || this.known.epoch !== row.epoch)) {
        log.info("standby: following the leader", { leader: row.address, leaderId: row.holder, epoch: row.epoch });
      }
      this.known = row;
      const silentMs = row.nowMs - row.renewedAtMs;
      if (row.holder !== "" && row.holder !== this.o.instanceId && silentMs > row.leaseMs) {
        const sessions = await lock.terminate(row.holder);
        log.warn("the leader let its lease run out: ended its database sessions so that a standby can lead", {
          leader: row.holder,
          address: row.address,
          epoch: row.epoch,
          silentMs: row.renewedAtMs > 0 ? silentMs : null,
          sessions,
        });
      }
      this.lastFailure = "";
    } catch (err) {
      this.failed(err);
      await lock.reset();
    }
  }

  private async renew(): Promise<void> {
    const term = this.leading!;
    const sentAt = this.o.monotonicNow();
    try {
      // The session may have broken and reconnected since the last renewal: the lock is then
      // ours again only if nobody took it meanwhile, and the row tells whether anyone claimed.
      if (!(await this.o.lock.tryAcquire())) return await this.stepDown("another master holds the leader lock");
      if (!(await this.o.lock.renew(term.epoch, this.o.instanceId))) return await this.stepDown("another master claimed a later epoch");
      this.reachable();
      this.lastFailure = "";
      term.lastRenewedAt = sentAt;
    } catch (err) {
      this.failed(err);
      await this.o.lock.reset();
      const silentMs = this.o.monotonicNow() - term.lastRenewedAt;
      if (silentMs > this.o.leaseMs + this.o.outageHoldMs) await this.stepDown(`could not renew the lease for ${silentMs} ms`);
    }
  }

  private async stepDown(reason: string): Promise<void> {
    if (!this.leading) return;
    await this.leave(reason);
    // Free the lock at once (if this session still holds it), so that a standby can take it.
    await this.o.lock.reset();
  }

  private async leave(reason: string): Promise<void> {
    const term = this.leading;
    if (!term) return;
    this.leading = null;
    // Whoever leads now is learnt at the next poll; until then no redirect names anyone (the row
    // read before this term would name a leader older than this one).
    this.known = null;
    this.termsLost++;
    this.o.log.warn("stepped down as leader", { epoch: term.epoch, reason });
    await this.o.onDeposed(reason);
  }

  private reachable(): void {
    if (this.unreachableSince === null) return;
    this.o.log.info("election: database reachable again", { afterMs: Math.round(this.o.monotonicNow() - this.unreachableSince) });
    this.unreachableSince = null;
  }

  /** A step that failed: the database out of reach (logged once per outage), or anything else (once per message). */
  private failed(err: unknown): void {
    const role = this.leading ? "leader" : "standby";
    if (!isConnectionError(err)) {
      const message = String(err);
      if (message !== this.lastFailure) this.o.log.error("election failed", { role, error: message });
      this.lastFailure = message;
      return;
    }
    if (this.unreachableSince !== null) return;
    this.unreachableSince = this.o.monotonicNow();
    this.o.log.warn("election: cannot reach the database", { role, error: String(err) });
  }
}
