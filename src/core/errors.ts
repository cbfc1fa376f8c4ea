// One error class per failure the API can report. Each carries typed fields; the mapping to gRPC
// status codes lives in one place (master/grpc-errors.ts), so the core never imports gRPC.

export abstract class TaskgridError extends Error {
  abstract readonly kind:
    | "invalid_argument"
    | "not_found"
    | "failed_precondition"
    | "already_exists"
    | "unavailable"
    | "resource_exhausted"
    | "unauthenticated"
    | "permission_denied";
}

/** Input broke a rule. `field` is the path of the offending field (e.g. "spec.resources.cpu_millis"). */
export class InvalidArgumentError extends TaskgridError {
  readonly kind = "invalid_argument";
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field}: ${rule}`);
    this.name = "InvalidArgumentError";
  }
}

export class NotFoundError extends TaskgridError {
  readonly kind = "not_found";
  constructor(
    readonly entity: "task" | "worker" | "attempt" | "token" | "quota",
    readonly id: string,
  ) {
    super(`${entity} ${JSON.stringify(id)} not found`);
    this.name = "NotFoundError";
  }
}

/** An illegal state transition (e.g. cancel a finished task). */
export class FailedPreconditionError extends TaskgridError {
  readonly kind = "failed_precondition";
  constructor(message: string) {
    super(message);
    this.name = "FailedPreconditionError";
  }
}

/** Idempotency key reused with a different spec. */
export class AlreadyExistsError extends TaskgridError {
  readonly kind = "already_exists";
  constructor(
    readonly idempotencyKey: string,
    readonly existingTaskId: string,
  ) {
    super(`idempotency_key ${JSON.stringify(idempotencyKey)} already used by task ${existingTaskId} with a different spec`);
    this.name = "AlreadyExistsError";
  }
}

/** The server is shutting down or a dependency is down. */
export class UnavailableError extends TaskgridError {
  readonly kind = "unavailable";
  constructor(message: string) {
    super(message);
    this.name = "UnavailableError";
  }
}

/** The database cannot be reached right now (an outage, not a bad request): retry later. */
export class DatabaseUnavailableError extends UnavailableError {
  constructor(cause: unknown) {
    super(`database unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "DatabaseUnavailableError";
  }
}

/**
 * This master is a standby (or between terms): it does not place tasks or accept writes. The
 * client should call the leader, whose advertised address is given when known (sent to clients as
 * UNAVAILABLE with `taskgrid-leader` metadata, see master/grpc-errors.ts).
 */
export class NotLeaderError extends UnavailableError {
  constructor(readonly leaderAddress: string) {
    super(
      leaderAddress
        ? `this master is a standby; the leader is at ${leaderAddress}`
        : "this master is a standby and no leader is known right now; retry shortly",
    );
    this.name = "NotLeaderError";
  }
}

/** Metadata key of the leader's address on a NotLeaderError (gRPC metadata keys are lower case). */
export const LEADER_METADATA_KEY = "taskgrid-leader";

/**
 * A write of a deposed leader: the database's leadership epoch is no longer this master's, so the
 * transaction was rolled back. The master steps down on it.
 */
export class FencedError extends UnavailableError {
  constructor(
    readonly ownEpoch: number | null,
    readonly currentEpoch: number | null,
  ) {
    super(
      ownEpoch === null
        ? "this master is not the leader: write refused"
        : `leadership epoch ${ownEpoch} was superseded by ${currentEpoch ?? "another"}: write refused`,
    );
    this.name = "FencedError";
  }
}

/** A protocol violation by an agent (malformed or out-of-order message); ends that agent's session. */
export class ProtocolError extends TaskgridError {
  readonly kind = "invalid_argument";
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** A second agent registered a worker id whose session is alive (no session takeover). */
export class WorkerConnectedError extends TaskgridError {
  readonly kind = "already_exists";
  constructor(
    readonly workerId: string,
    readonly otherPeer: string,
  ) {
    super(`worker id ${JSON.stringify(workerId)} is already connected from ${otherPeer}; give this agent another --id, or stop the other one`);
    this.name = "WorkerConnectedError";
  }
}

/** No usable credentials: the token is missing, malformed, unknown, expired or revoked. */
export class UnauthenticatedError extends TaskgridError {
  readonly kind = "unauthenticated";
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
  ) {
    super(message);
    this.name = "UnauthenticatedError";
  }
}

/** Why a call was not authenticated; also the `reason` label of taskgrid_auth_failures_total. */
export type AuthFailureReason = "missing" | "malformed" | "unknown" | "bad_secret" | "expired" | "revoked" | "rate_limited";

/** The caller is known but its role (or its worker binding) does not allow this. */
export class PermissionDeniedError extends TaskgridError {
  readonly kind = "permission_denied";
  constructor(message: string) {
    super(message);
    this.name = "PermissionDeniedError";
  }
}
