// How a failed call reads to a person: the gRPC status name and the server's message, never a stack.
import type { ClientError } from "../client/index.js";

export function clientErrorText(err: ClientError): string {
  // grpc-js appends an empty "Resolution note:" to connection errors; it only adds noise.
  return `${err.codeName}: ${err.details.replace(/\s*Resolution note:\s*$/, "")}`;
}
