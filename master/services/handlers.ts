// Wraps promise-returning handlers into grpc-js callbacks, mapping errors in one place.
import type { Metadata, sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";
import { UnavailableError } from "../../src/core/errors.js";
import { toServiceError } from "../grpc-errors.js";
import type { Logger } from "../logger.js";

export function unary<Req, Res>(log: Logger, name: string, isAccepting: () => boolean, fn: (req: Req, metadata: Metadata) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const run = async () => {
      if (!isAccepting()) throw new UnavailableError("master is shutting down");
      return fn(call.request, call.metadata);
    };
    run().then(
      (res) => callback(null, res),
      (err) => callback(toServiceError(err, log, name) as never, null),
    );
  };
}
