// Who is calling: the `authorization` metadata -> a Caller, or UnauthenticatedError.
//
// A token is verified once per master (database read + scrypt) and then cached by the exact header
// value, so an authenticated call costs a Map lookup. The cache is the reason revocation needs care:
// every `refreshMs` the cached tokens are re-read, and a token that was revoked (here or by another
// master on the same database), expired or deleted leaves the cache and its open streams are ended.
// Failed attempts are charged to the peer's address (failure-limiter.ts) and counted by reason.
import { actorOf, type Caller } from "../../src/core/access.js";
import { type AuthFailureReason, UnauthenticatedError } from "../../src/core/errors.js";
import { parseAuthorization } from "../../src/core/token-format.js";
import type { TokenRecord, TokenStore } from "../../src/store/store-types.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import { DEFAULT_FAILURE_LIMIT, FailureLimiter } from "./failure-limiter.js";
import { verifySecret } from "./token-secret.js";

export interface AuthenticatorDeps {
  tokens: TokenStore;
  clock: Clock;
  log: Logger;
  /** How often cached tokens are re-read from the database. */
  refreshMs: number;
  /** Counts a failed authentication (taskgrid_auth_failures_total{reason}). */
  onFailure?: (reason: AuthFailureReason) => void;
  failureLimit?: { burst: number; refillPerSecond: number };
}

/** Last-used times are written at most this often (a write per call would cost more than the call). */
const LAST_USED_FLUSH_MS = 60_000;
/** Verified tokens kept; beyond it the oldest entry is dropped (it is verified again on next use). */
const MAX_CACHED = 10_000;

interface Verified {
  record: TokenRecord;
  caller: Caller;
}

/** Ends one open stream of a token (with the reason the token stopped working). */
type StreamEnder = (error: UnauthenticatedError) => void;

export function callerOfToken(record: TokenRecord): Caller {
  return {
    tokenId: record.id,
    role: record.role,
    project: record.role === "admin" ? null : record.project,
    workerPattern: record.workerPattern,
    actor: actorOf(record),
  };
}

export class Authenticator {
  /** By exact `authorization` value. */
  private readonly verified = new Map<string, Verified>();
  /** Verifications in flight, so a burst of calls with a new token costs one scrypt. */
  private readonly verifying = new Map<string, Promise<Verified>>();
  private readonly streams = new Map<string, Set<StreamEnder>>();
  private readonly lastUsed = new Map<string, number>();
  private readonly limiter: FailureLimiter;
  private lastFlushMs: number;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly deps: AuthenticatorDeps) {
    this.limiter = new FailureLimiter({ ...(deps.failureLimit ?? DEFAULT_FAILURE_LIMIT), now: () => deps.clock.now() });
    this.lastFlushMs = deps.clock.now();
  }

  start(): void {
    this.timer = setInterval(() => {
      this.refreshing ??= this.refresh()
        .catch((err) => this.deps.log.warn("token refresh failed; cached tokens kept until the next try", { error: String(err) }))
        .finally(() => (this.refreshing = null));
    }, this.deps.refreshMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.refreshing;
    await this.flushLastUsed().catch(() => {});
  }

  /**
   * The caller behind `authorization`. Synchronous for a cached token (the common case), so an
   * authenticated call adds no event-loop turn.
   */
  authenticate(authorization: string | undefined, peer: string): Caller | Promise<Caller> {
    const hit = authorization === undefined ? undefined : this.verified.get(authorization);
    if (hit) {
      const expired = this.expiredError(hit.record);
      if (!expired) {
        this.lastUsed.set(hit.record.id, this.deps.clock.now());
        return hit.caller;
      }
      this.invalidate(hit.record.id, expired);
      return this.failed(peer, expired);
    }
    if (!this.limiter.allowed(peer)) {
      return this.failed(
        peer,
        new UnauthenticatedError("rate_limited", `too many failed authentications from this address; retry in ${this.limiter.retryAfterSeconds(peer)} s`),
      );
    }
    let presented: { id: string; secret: string };
    try {
      presented = parseAuthorization(authorization);
    } catch (err) {
      return this.failed(peer, err);
    }
    const key = authorization as string;
    let verifying = this.verifying.get(key);
    if (!verifying) {
      verifying = this.verify(presented.id, presented.secret).finally(() => this.verifying.delete(key));
      this.verifying.set(key, verifying);
    }
    return verifying.then(
      (v) => {
        this.remember(key, v);
        this.lastUsed.set(v.record.id, this.deps.clock.now());
        return v.caller;
      },
      (err) => this.failed(peer, err),
    );
  }

  /** Registers an open stream of `caller`; it is ended when the token stops working. Returns the unregister function. */
  track(caller: Caller, end: StreamEnder): () => void {
    if (caller.tokenId === null) return () => {};
    const id = caller.tokenId;
    let set = this.streams.get(id);
    if (!set) this.streams.set(id, (set = new Set()));
    set.add(end);
    return () => {
      set.delete(end);
      if (set.size === 0 && this.streams.get(id) === set) this.streams.delete(id);
    };
  }

  /** A token was revoked through this master: forget it and end its streams now. */
  revoked(tokenId: string): void {
    this.invalidate(tokenId, new UnauthenticatedError("revoked", "authorization: the token was revoked"));
  }

  /** Re-reads every cached or streaming token; drops those no longer valid. Also flushes last-used times. */
  async refresh(): Promise<void> {
    const ids = new Set<string>(this.streams.keys());
    for (const v of this.verified.values()) ids.add(v.record.id);
    if (ids.size > 0) {
      const current = new Map((await this.deps.tokens.get([...ids])).map((r) => [r.id, r]));
      for (const id of ids) {
        const record = current.get(id);
        const problem = !record
          ? new UnauthenticatedError("unknown", "authorization: the token no longer exists")
          : record.revokedAtMs !== null
            ? new UnauthenticatedError("revoked", "authorization: the token was revoked")
            : this.expiredError(record);
        if (problem) this.invalidate(id, problem);
      }
    }
    if (this.deps.clock.now() - this.lastFlushMs >= LAST_USED_FLUSH_MS) await this.flushLastUsed();
  }

  private async verify(id: string, secret: string): Promise<Verified> {
    const [record] = await this.deps.tokens.get([id]);
    // Unknown id and wrong secret read the same, and revocation or expiry is told only to a caller
    // who holds the secret: nothing is learned about a token without it.
    const invalid = "authorization: the token is not valid (unknown, or of another master)";
    if (!record) throw new UnauthenticatedError("unknown", invalid);
    if (!(await verifySecret(secret, record.secretHash))) throw new UnauthenticatedError("bad_secret", invalid);
    if (record.revokedAtMs !== null) throw new UnauthenticatedError("revoked", "authorization: the token was revoked");
    const expired = this.expiredError(record);
    if (expired) throw expired;
    return { record, caller: callerOfToken(record) };
  }

  private expiredError(record: TokenRecord): UnauthenticatedError | null {
    if (record.expiresAtMs === null || this.deps.clock.now() < record.expiresAtMs) return null;
    return new UnauthenticatedError("expired", `authorization: the token expired at ${new Date(record.expiresAtMs).toISOString()}`);
  }

  private remember(key: string, v: Verified): void {
    if (this.verified.size >= MAX_CACHED) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(key, v);
  }

  private invalidate(tokenId: string, reason: UnauthenticatedError): void {
    for (const [key, v] of this.verified) if (v.record.id === tokenId) this.verified.delete(key);
    const streams = this.streams.get(tokenId);
    this.streams.delete(tokenId);
    for (const end of streams ?? []) end(reason);
  }

  /** Counts the failure (and charges the peer), then rejects with it; other errors (database down) pass through. */
  private failed(peer: string, err: unknown): Promise<never> {
    if (err instanceof UnauthenticatedError) {
      if (err.reason !== "rate_limited") this.limiter.recordFailure(peer);
      this.deps.onFailure?.(err.reason);
    }
    return Promise.reject(err);
  }

  private async flushLastUsed(): Promise<void> {
    this.lastFlushMs = this.deps.clock.now();
    if (this.lastUsed.size === 0) return;
    const batch = new Map(this.lastUsed);
    this.lastUsed.clear();
    await this.deps.tokens.recordLastUsed(batch);
  }
}
