// One error class for every failed call, so callers (and the CLI) switch on a typed gRPC status
// instead of parsing grpc-js error strings.
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";

/** gRPC status number -> its canonical name ("INVALID_ARGUMENT", ...). */
const CODE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(GrpcStatus)
    .filter(([, value]) => typeof value === "number")
    .map(([name, value]) => [value as number, name]),
);

export function codeName(code: number): string {
  return CODE_NAMES.get(code) ?? `CODE_${code}`;
}

/** A call that the server (or the channel) answered with a non-OK status. */
export class ClientError extends Error {
  override readonly name = "ClientError";
  /** gRPC status number (grpc.status). */
  readonly code: number;
  /** Canonical status name, e.g. "NOT_FOUND". */
  readonly codeName: string;
  /** The server's message (the status details), e.g. "task 0192... not found". */
  readonly details: string;

  constructor(code: number, details: string, options?: { cause?: unknown }) {
    super(`${codeName(code)}: ${details}`, options);
    this.code = code;
    this.codeName = codeName(code);
    this.details = details;
  }
}

function isServiceError(err: unknown): err is ServiceError {
  return typeof err === "object" && err !== null && typeof (err as ServiceError).code === "number" && "details" in err;
}

/** Wraps whatever a grpc-js call rejected with; anything that is not a status becomes UNKNOWN. */
export function toClientError(err: unknown): ClientError {
  if (err instanceof ClientError) return err;
  if (isServiceError(err)) return new ClientError(err.code, err.details || err.message, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new ClientError(GrpcStatus.UNKNOWN, message, { cause: err });
}
