// The one place where errors become gRPC statuses (nice-grpc style). Domain errors keep their
// message; anything unexpected becomes INTERNAL with a generic message and is logged, so stack
// traces never leak to clients.
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { LEADER_METADATA_KEY, NotLeaderError, TaskgridError } from "../src/core/errors.js";
import type { Logger } from "./logger.js";

const CODES: Record<TaskgridError["kind"], status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  failed_precondition: status.FAILED_PRECONDITION,
  already_exists: status.ALREADY_EXISTS,
  unavailable: status.UNAVAILABLE,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
};

export function toServiceError(err: unknown, log: Logger, context: string): Partial<ServiceError> {
  if (err instanceof TaskgridError) {
    const metadata = new Metadata();
    // A standby names the leader so that clients and agents can go there at once.
    if (err instanceof NotLeaderError && err.leaderAddress) metadata.set(LEADER_METADATA_KEY, err.leaderAddress);
    return { code: CODES[err.kind], details: err.message, metadata };
  }
  log.error(`${context} failed`, { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return { code: status.INTERNAL, details: "internal error", metadata: new Metadata() };
}
