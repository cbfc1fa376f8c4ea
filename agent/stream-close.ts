// How the agent reads the close of its stream to the master: whether a standby that knows no leader
// yet refused it (worth asking again soon), and the log line that says what went wrong and what the
// agent does next. Refused credentials go through the same growing backoff as any close (reset only
// by `registered`): a bad token is retried ever more slowly, never in a loop.
import { status as GrpcStatus } from "@grpc/grpc-js";

/** A standby's refusal (NotLeaderError in src/core/errors.ts), as the stream's close reason carries it. */
const STANDBY_REFUSAL = /this master is a standby/;

/**
 * A standby that knows no leader yet (a failover is under way) is alive and will either lead or
 * name the leader within a lease: worth asking again soon rather than backing off.
 */
export function isStandbyWithoutLeader(reason: string, code: GrpcStatus | undefined, leaderHint: string | undefined): boolean {
  return code === GrpcStatus.UNAVAILABLE && leaderHint === undefined && STANDBY_REFUSAL.test(reason);
}

export interface CloseLogLine {
  level: "info" | "warn" | "error";
  msg: string;
  /** What to check, for a refusal of the agent's credentials. */
  hint?: string;
}

export function closeLogLine(code: GrpcStatus | undefined, leaderHint: string | undefined): CloseLogLine {
  if (code === GrpcStatus.UNAUTHENTICATED || code === GrpcStatus.PERMISSION_DENIED) {
    const hint =
      code === GrpcStatus.UNAUTHENTICATED
        ? "the master did not accept the agent's token (missing, malformed, unknown or revoked)"
        : "the master accepted the agent's token but it may not connect as this worker (check its role and project)";
    return { level: "error", msg: "master refused the agent; retrying with backoff", hint };
  }
  if (leaderHint !== undefined) return { level: "info", msg: "master is not the leader; following its leader hint" };
  return { level: "warn", msg: "master stream closed; reconnecting" };
}
