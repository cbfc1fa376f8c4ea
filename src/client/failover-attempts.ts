// Where and when one call tries next after a master answered UNAVAILABLE (the retry rule in
// retry-rule.ts has already said that trying again is safe). A standby that names the leader sends
// the call there at once; otherwise the call goes round the known masters, pausing between rounds
// (50 ms doubling to 1 s) so that a failover, where no master leads for a few seconds, is not
// hammered. It gives up when the call's deadline has passed, or when in a whole round no master
// could even be connected to: then no failover is under way (that needs a live standby), the
// masters are down or misconfigured, and waiting out the deadline would only delay the error.
import type { LeaderRouter } from "./leader-router.js";
import type { UnavailableKind } from "./retry-rule.js";

const FIRST_PAUSE_MS = 50;
const MAX_PAUSE_MS = 1_000;
/** Time kept for a last try before the deadline (a call to a master near by takes a few ms). */
const LAST_TRY_MS = 25;

export class FailoverAttempts {
  /** Masters tried in this round. */
  private readonly tried = new Set<string>();
  /** Whether every failure of this round was a connection that could not be made. */
  private noneReached = true;
  private pauseMs = FIRST_PAUSE_MS;

  constructor(
    private readonly router: Pick<LeaderRouter<unknown>, "follow" | "advancePast">,
    /** Date.now() after which no try starts. */
    private readonly deadlineAtMs: number,
  ) {}

  /**
   * After a try on `target` failed: points the router at the master to try next and returns how
   * long to wait before trying it (never past the deadline: a caller finding the deadline passed after
   * the wait gives up), or undefined when the call should give up (with this error).
   */
  next(target: string, kind: UnavailableKind, leaderHint: string | undefined): number | undefined {
    this.tried.add(target);
    if (kind !== "not-sent") this.noneReached = false;
    const nextTarget = leaderHint !== undefined ? this.router.follow(leaderHint) : this.router.advancePast(target);
    let waitMs = 0;
    if (this.tried.has(nextTarget)) {
      // A round is over: every known master (or every one of a redirect loop) failed once.
      if (this.noneReached) return undefined;
      waitMs = this.pauseMs;
      this.pauseMs = Math.min(this.pauseMs * 2, MAX_PAUSE_MS);
      this.tried.clear();
      this.noneReached = true;
    }
    // The last pause ends when only the time of one try is left (a leader may still be elected until
    // then). A try begun later would likely be cut by the deadline, turning an answer that says
    // what is wrong (no leader) into a bare DEADLINE_EXCEEDED.
    const leftMs = this.deadlineAtMs - Date.now() - LAST_TRY_MS;
    return leftMs > 0 ? Math.min(waitMs, leftMs) : undefined;
  }
}
