// Which master the agent connects to next, and after how long. With several masters (HA: one
// leader, the others standbys) the agent is given their addresses and finds the leader:
// - a stream that ended with a leader hint (a standby's refusal, or a leader stepping down, names
//   the leader in `taskgrid-leader`) is followed to that address after a short fixed delay;
// - any other failure moves on to the next listed address (round robin) after the growing backoff.
// - a standby that knows no leader yet (a failover is under way: the old leader is gone, the next
//   one not elected) is asked again after the short delay, up to STANDBY_RETRIES times since the
//   last registration: it will lead or name the leader within a lease, and the dead leader next in
//   the list would only add backoff;
// - a hint naming the master the agent just left because it went silent (a stopped or cut-off
//   leader: the kernel keeps its connections open, it answers nothing) is stale: the standby that
//   gave it still sees that leader's lease, and leads itself once it runs out. The standby is asked
//   again after the short delay, sharing the STANDBY_RETRIES budget. Following the hint meant
//   waiting out registerTimeoutMs (30 s) at the silent master, past the agents' leases: results of
//   attempts that had finished meanwhile reached the new leader only after it had given their
//   tasks up as lost, and they ran again.
// Hints can be stale for a few seconds around a failover (two standbys naming each other, or a
// dead leader): a hint to an address already hinted since the last registration is a loop, so it
// is followed only after the growing backoff. A new hint (a leader elected meanwhile) is prompt
// again. The backoff and the hints seen are reset only by a registration, as before HA.
import type { Backoff } from "./backoff.js";

/** Default delay before following a new leader hint: prompt, yet never a hot loop. */
export const LEADER_HINT_DELAY_MS = 100;

/** Quick retries of a standby without a leader (x the hint delay: a bit more than a default lease). */
export const STANDBY_RETRIES = 60;

export interface NextConnect {
  address: string;
  delayMs: number;
  /** Why this address and delay, for the log. */
  why: string;
}

export class MasterPicker {
  /** Position in `addresses` that round robin continues from. */
  private index = 0;
  private address: string;
  /** Leader hints followed since the last registration (a repeat means a loop). */
  private readonly hintsFollowed = new Set<string>();
  /** Quick retries of a standby without a leader (or naming a silent one) since the last registration. */
  private standbyRetries = 0;
  /** The master left because it went silent, since the last registration. */
  private silent: string | null = null;

  constructor(
    private readonly addresses: readonly string[],
    private readonly backoff: Backoff,
    private readonly hintDelayMs = LEADER_HINT_DELAY_MS,
  ) {
    if (addresses.length === 0) throw new Error("MasterPicker needs at least one address");
    this.address = addresses[0];
  }

  /** The address to connect to now. */
  get current(): string {
    return this.address;
  }

  /** The master at `current` accepted the agent: later failures start from the base delay again. */
  registered(): void {
    this.backoff.reset();
    this.hintsFollowed.clear();
    this.standbyRetries = 0;
    this.silent = null;
  }

  /** The master at `current` stopped answering (heartbeats, or `register`): the agent leaves it. */
  wentSilent(): void {
    this.silent = this.address;
  }

  /** After a stream ended (or never opened): where to connect next and when. */
  afterClose(leaderHint?: string, standbyWithoutLeader = false): NextConnect {
    if (leaderHint === undefined && standbyWithoutLeader && this.standbyRetries < STANDBY_RETRIES) {
      this.standbyRetries++;
      return { address: this.address, delayMs: this.hintDelayMs, why: "a standby that knows no leader yet: asking it again shortly" };
    }
    if (leaderHint !== undefined && leaderHint === this.silent && leaderHint !== this.address && this.standbyRetries < STANDBY_RETRIES) {
      this.standbyRetries++;
      return { address: this.address, delayMs: this.hintDelayMs, why: "the hint names the master that went silent: asking this one again shortly" };
    }
    if (leaderHint !== undefined) {
      const repeated = this.hintsFollowed.has(leaderHint);
      this.hintsFollowed.add(leaderHint);
      // A listed leader: a later failure of it continues round robin after it, not before.
      const listed = this.addresses.indexOf(leaderHint);
      if (listed >= 0) this.index = listed;
      this.address = leaderHint;
      return repeated
        ? {
            address: leaderHint,
            delayMs: this.backoff.next(),
            why: "leader hint seen before since the last registration (a hint loop): following it after backoff",
          }
        : { address: leaderHint, delayMs: this.hintDelayMs, why: "leader hint" };
    }
    this.index = (this.index + 1) % this.addresses.length;
    this.address = this.addresses[this.index];
    return { address: this.address, delayMs: this.backoff.next(), why: this.addresses.length > 1 ? "next master address" : "the only master address" };
  }
}
