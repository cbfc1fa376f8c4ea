// How a failed call reads to a person: the gRPC status name and the server's message, never a stack.
import type { ClientError } from "../client/index.js";

export function clientErrorText(err: ClientError): string {
  // grpc-js appends an empty "Resolution note:" to connection errors; it only adds noise.
  return `${err.codeName}: ${err.details.replace(/\s*Resolution note:\s*$/, "")}`;
}

const PERMISSION_DENIED = 7;
const UNAVAILABLE = 14;
const UNAUTHENTICATED = 16;

/** A line on what to do next, for the statuses where the fix is on the caller's side; undefined otherwise. */
export function clientErrorHint(err: ClientError): string | undefined {
  switch (err.code) {
    case UNAVAILABLE:
      // The client followed the leader until its deadline and still found none.
      if (/^this master is a standby/.test(err.details))
        return "(no master leads right now; a failover takes a few seconds: retry shortly, and give every master in --master a:50051,b:50051)";
      return /handshake|ssl|tls|certificate/i.test(err.details)
        ? "(TLS problem: check --tls-ca (the CA of the master's certificate) and, for mTLS, --tls-cert/--tls-key)"
        : "(is the master running? set its address (or several, comma-separated) with --master or TASKGRID_MASTER; a master with TLS needs --tls-ca or --tls)";
    case UNAUTHENTICATED:
      return "(the master requires a valid API token: set one with --token, TASKGRID_TOKEN or ~/.config/taskgrid/credentials; an admin creates it with 'taskgrid token create')";
    case PERMISSION_DENIED:
      return "(this token's role does not allow that; 'taskgrid token whoami' shows its role and project)";
    default:
      return undefined;
  }
}
